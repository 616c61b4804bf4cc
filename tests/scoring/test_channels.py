import pytest

from calls.models import CallStatus, Channel
from scoring.channels import recommend_channel
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def contact(**kwargs):
    return ContactFactory.build(**kwargs)


def test_urgent_contact_is_called():
    assert recommend_channel(contact(), priority=9).channel == Channel.PHONE


def test_missed_last_call_suggests_whatsapp():
    for status in (CallStatus.VOICEMAIL, CallStatus.NO_ANSWER):
        recommendation = recommend_channel(contact(last_call_status=status), priority=5)
        assert recommendation.channel == Channel.WHATSAPP
        assert "missed" in recommendation.why


def test_no_phone_means_email():
    assert recommend_channel(contact(phone="", mobile=""), priority=9).channel == Channel.EMAIL


def test_invalid_phone_is_not_dialled():
    assert recommend_channel(contact(phone="12", phone_is_valid=False), priority=9).channel == Channel.EMAIL


def test_opted_out_channel_is_never_recommended():
    urgent_but_no_calls = contact(phone_opt_out=True)
    assert recommend_channel(urgent_but_no_calls, priority=9).channel == Channel.WHATSAPP
    no_whatsapp = contact(last_call_status=CallStatus.VOICEMAIL, whatsapp_opt_out=True)
    assert recommend_channel(no_whatsapp, priority=5).channel == Channel.PHONE
    only_sms = contact(phone_opt_out=True, whatsapp_opt_out=True, email_opt_out=True)
    assert recommend_channel(only_sms, priority=9).channel == Channel.SMS


def test_do_not_contact_gets_no_channel():
    recommendation = recommend_channel(contact(do_not_contact=True), priority=10)
    assert recommendation.channel == "" and recommendation.label == "None allowed"
