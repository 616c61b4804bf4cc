from datetime import timedelta

import pytest
from django.utils import timezone

from calls.models import CallOutcome, CallStatus, QueueState
from calls.selectors import QueueFilters, call_queue
from calls.services import queue_mark_called, queue_snooze
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def in_queue(user, contact) -> bool:
    return contact.pk in [e.contact.pk for e in call_queue(user=user, filters=QueueFilters()).entries]


def test_mark_called_updates_facts_and_removes_the_entry(setter):
    contact = ContactFactory(owner=setter.owner)
    assert in_queue(setter, contact)
    queue_mark_called(
        contact=contact,
        owner=setter.owner,
        status=CallStatus.ANSWERED,
        outcome=CallOutcome.BOOKED,
        note="Trial booked",
    )
    contact.refresh_from_db()
    assert (contact.call_count, contact.booking_count, contact.last_call_outcome) == (1, 1, "booked")
    assert not in_queue(setter, contact)


def test_no_answer_puts_the_lead_back_after_the_retry_wait(setter, settings):
    settings.QUEUE_RETRY_AFTER_HOURS = 3
    contact = ContactFactory(owner=setter.owner)
    call = queue_mark_called(contact=contact, owner=setter.owner, status=CallStatus.NO_ANSWER)
    state = QueueState.objects.get(contact=contact)
    assert state.snoozed_until == call.started_at + timedelta(hours=3)
    assert state.snooze_reason == "No answer: try again later"


def test_voicemail_snoozes_and_makes_whatsapp_the_next_channel(setter):
    contact = ContactFactory(owner=setter.owner, mobile="+971501112233")
    queue_mark_called(contact=contact, owner=setter.owner, status=CallStatus.VOICEMAIL)
    assert QueueState.objects.get(contact=contact).snooze_reason == "Voicemail left: WhatsApp next"
    later = timezone.now() + timedelta(hours=5)
    entry = next(e for e in call_queue(user=setter, filters=QueueFilters(), now=later).entries)
    assert entry.contact.pk == contact.pk and entry.channel.channel == "WHATSAPP"


def test_callback_requested_snoozes_to_the_time_asked_for(setter):
    contact = ContactFactory(owner=setter.owner)
    callback_at = timezone.now() + timedelta(days=2, hours=3)
    queue_mark_called(
        contact=contact,
        owner=setter.owner,
        status=CallStatus.ANSWERED,
        outcome=CallOutcome.CALLBACK_REQUESTED,
        callback_at=callback_at,
    )
    state = QueueState.objects.get(contact=contact)
    assert state.snoozed_until == callback_at and state.snooze_reason.startswith("Callback requested for")


def test_answered_call_clears_an_earlier_snooze(setter):
    contact = ContactFactory(owner=setter.owner)
    queue_snooze(contact=contact, until=timezone.now() + timedelta(days=3), reason="Holiday")
    queue_mark_called(
        contact=contact, owner=setter.owner, status=CallStatus.ANSWERED, outcome=CallOutcome.CONNECTED
    )
    assert QueueState.objects.get(contact=contact).snoozed_until is None


def test_snooze_replaces_the_earlier_snooze(setter):
    contact = ContactFactory(owner=setter.owner)
    queue_snooze(contact=contact, until=timezone.now() + timedelta(days=3))
    tomorrow = timezone.now() + timedelta(days=1)
    queue_snooze(contact=contact, until=tomorrow, reason="Asked to call tomorrow")
    assert QueueState.objects.get(contact=contact).snoozed_until == tomorrow
    assert not in_queue(setter, contact)
    assert contact.pk in [
        e.contact.pk
        for e in call_queue(user=setter, filters=QueueFilters(), now=tomorrow + timedelta(minutes=1)).entries
    ]
