"""Admin for call records, interventions and queue state."""

from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from calls.models import CallRecord, CallStatus, Intervention, InterventionStatus, QueueState
from calls.services import call_log
from leads.admin import ContactSearchMixin
from leads.models import Contact
from tests.factories import ContactFactory, InterventionFactory, OwnerFactory

CALLS_MODELS = ("callrecord", "intervention", "queuestate")
CALLS_URL = reverse("admin:calls_callrecord_changelist")


def _url(model: str, view: str, *args) -> str:
    return reverse(f"admin:calls_{model}_{view}", args=args)


@pytest.fixture
def world(db):
    """30 contacts across three owners, each with three calls, an intervention and a queue state."""
    owners = OwnerFactory.create_batch(3)
    contacts = [ContactFactory(owner=owners[i % 3]) for i in range(30)]
    now = timezone.now()
    for contact in contacts:
        for hours in (1, 30, 80):
            call_log(
                contact=contact,
                owner=contact.owner,
                status=CallStatus.ANSWERED,
                started_at=now - timedelta(hours=hours),
            )
        InterventionFactory(contact=contact)
        QueueState.objects.create(
            contact=contact, snoozed_until=now + timedelta(days=1), snooze_reason="Travelling"
        )
    return {"owners": owners, "contacts": contacts}


def _object(model: str, world):
    contact = world["contacts"][0]
    return {
        "callrecord": contact.calls.first(),
        "intervention": contact.interventions.first(),
        "queuestate": contact.queue_state,
    }[model]


@pytest.mark.parametrize("model", CALLS_MODELS)
def test_changelist_loads_with_a_fixed_query_budget(
    admin_client_ops, world, model, django_assert_max_num_queries
):
    # 30 contacts (90 calls); the budget holds whatever the row count (no query per row).
    with django_assert_max_num_queries(8):
        response = admin_client_ops.get(_url(model, "changelist"))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) >= 30


@pytest.mark.parametrize("model", CALLS_MODELS)
def test_change_page_loads(admin_client_ops, world, model, django_assert_max_num_queries):
    obj = _object(model, world)

    with django_assert_max_num_queries(8):
        response = admin_client_ops.get(_url(model, "change", obj.pk))

    assert response.status_code == 200


@pytest.mark.parametrize("model", CALLS_MODELS)
def test_add_page_loads(admin_client_ops, model):
    assert admin_client_ops.get(_url(model, "add")).status_code == 200


def test_callrecord_changelist_drills_down_by_date(admin_client_ops, world, django_assert_max_num_queries):
    today = timezone.localdate()

    with django_assert_max_num_queries(8):
        response = admin_client_ops.get(
            CALLS_URL,
            {"started_at__year": today.year, "started_at__month": today.month, "started_at__day": today.day},
        )

    assert response.status_code == 200
    assert all(timezone.localdate(call.started_at) == today for call in response.context["cl"].result_list)


def _call_form(contact: Contact, started_at: datetime, **changes) -> dict:
    local = timezone.localtime(started_at)
    return {
        "contact": contact.pk,
        "owner": contact.owner_id,
        "direction": "OUTBOUND",
        "channel": "PHONE",
        "status": "answered",
        "outcome": "booked",
        "started_at_0": local.strftime("%Y-%m-%d"),
        "started_at_1": local.strftime("%H:%M:%S"),
        "duration_seconds": "240",
        "notes": "Booked a trial session for Tuesday.",
        **changes,
    }


def test_callrecord_add_goes_through_call_log_and_updates_contact_facts(admin_client_ops):
    contact = ContactFactory()
    started_at = (timezone.now() - timedelta(hours=2)).replace(microsecond=0)

    response = admin_client_ops.post(_url("callrecord", "add"), _call_form(contact, started_at))

    assert response.status_code == 302
    call = CallRecord.objects.get(contact=contact)
    assert (call.source, call.started_at, call.duration_seconds) == ("manual", started_at, 240)
    contact.refresh_from_db()
    assert (contact.call_count, contact.answered_call_count, contact.booking_count) == (1, 1, 1)
    assert contact.last_call_at == started_at
    assert contact.last_call_note == "Booked a trial session for Tuesday."


def test_callrecord_add_rejects_a_booking_on_an_unanswered_call(admin_client_ops):
    contact = ContactFactory()

    response = admin_client_ops.post(
        _url("callrecord", "add"), _call_form(contact, timezone.now(), status="no_answer", outcome="booked")
    )

    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["__all__"]
    assert not CallRecord.objects.exists()
    contact.refresh_from_db()
    assert contact.call_count == 0


def test_callrecord_cannot_be_edited(admin_client_ops):
    contact = ContactFactory()
    call = call_log(contact=contact, owner=contact.owner, status="answered", note="original")

    page = admin_client_ops.get(_url("callrecord", "change", call.pk))
    response = admin_client_ops.post(
        _url("callrecord", "change", call.pk), _call_form(contact, call.started_at, notes="rewritten")
    )

    assert page.status_code == 200
    assert response.status_code == 403
    call.refresh_from_db()
    assert call.notes == "original"


def test_callrecord_delete_recounts_contact_facts(admin_client_ops):
    contact = ContactFactory()
    now = timezone.now()
    earlier = call_log(
        contact=contact, owner=contact.owner, status="no_answer", started_at=now - timedelta(days=1)
    )
    latest = call_log(contact=contact, owner=contact.owner, status="answered", started_at=now)

    response = admin_client_ops.post(_url("callrecord", "delete", latest.pk), {"post": "yes"})

    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.call_count, contact.answered_call_count) == (1, 0)
    assert contact.last_call_at == earlier.started_at


def test_callrecord_search_finds_calls_by_contact_phone(admin_client_ops):
    wanted = ContactFactory(phone="+971501234567")
    other = ContactFactory()
    call = call_log(contact=wanted, owner=wanted.owner, status="answered")
    call_log(contact=other, owner=other.owner, status="answered")

    response = admin_client_ops.get(CALLS_URL, {"q": "050 123 4567"})

    assert list(response.context["cl"].result_list) == [call]


def test_callrecord_search_matching_many_contacts_still_finds_every_call(admin_client_ops, monkeypatch):
    # Past the inline limit the matching contacts stay a subquery instead of an id list.
    monkeypatch.setattr(ContactSearchMixin, "contact_ids_inline_max", 1)
    calls = [
        call_log(contact=c, owner=c.owner, status="answered")
        for c in ContactFactory.create_batch(3, last_name="Haddad")
    ]
    call_log(contact=ContactFactory(last_name="Other"), owner=None, status="answered")

    response = admin_client_ops.get(CALLS_URL, {"q": "haddad"})

    assert sorted(response.context["cl"].result_list, key=lambda c: c.pk) == calls


def test_callrecord_filter_by_contact_from_its_records_link(admin_client_ops):
    wanted, other = ContactFactory(), ContactFactory()
    call = call_log(contact=wanted, owner=wanted.owner, status="answered")
    call_log(contact=other, owner=other.owner, status="answered")

    response = admin_client_ops.get(CALLS_URL, {"contact__id__exact": wanted.pk})

    assert list(response.context["cl"].result_list) == [call]


def test_intervention_add_records_who_created_it(admin_client_ops, superuser):
    contact = ContactFactory()
    now = timezone.localtime()

    response = admin_client_ops.post(
        _url("intervention", "add"),
        {
            "contact": contact.pk,
            "intervention_type": "RE_ENGAGEMENT",
            "status": "OPEN",
            "created_at_0": now.strftime("%Y-%m-%d"),
            "created_at_1": now.strftime("%H:%M:%S"),
        },
    )

    assert response.status_code == 302
    assert Intervention.objects.get(contact=contact).created_by == superuser


def test_intervention_changelist_filters_by_status(admin_client_ops):
    done = InterventionFactory(status=InterventionStatus.DONE, outcome="success")
    InterventionFactory()

    response = admin_client_ops.get(_url("intervention", "changelist"), {"status__exact": "DONE"})

    assert list(response.context["cl"].result_list) == [done]
