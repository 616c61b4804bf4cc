from datetime import timedelta

import pytest
from django.utils import timezone

from calls.models import CallOutcome, CallRecord, CallSource, CallStatus, Direction
from calls.services import CONTACT_FACT_FIELDS, call_log, contact_facts_rebuild, note_excerpt
from leads.models import Contact
from tests.factories import CallRecordFactory, ContactFactory, DealFactory

pytestmark = pytest.mark.django_db

FACTS = CONTACT_FACT_FIELDS


def facts(contact: Contact) -> dict:
    contact.refresh_from_db()
    return {name: getattr(contact, name) for name in FACTS}


def test_call_log_updates_the_contact_facts():
    # given
    contact = ContactFactory()
    started = timezone.now() - timedelta(minutes=5)
    # when
    call = call_log(
        contact=contact,
        owner=contact.owner,
        status=CallStatus.ANSWERED,
        outcome=CallOutcome.BOOKED,
        note="Booked a trial session for Tuesday",
        started_at=started,
    )
    # then
    assert call.pk and call.owner == contact.owner
    assert facts(contact) == {
        "call_count": 1,
        "outgoing_call_count": 1,
        "answered_call_count": 1,
        "booking_count": 1,
        "last_call_at": started,
        "last_reached_at": started,
        "last_call_status": "answered",
        "last_call_outcome": "booked",
        "last_call_note": "Booked a trial session for Tuesday",
        "last_activity_at": started,
        "next_task_due_at": None,
        "open_deal_amount": None,
    }


def test_call_log_older_call_counts_but_does_not_become_the_last_call():
    contact = ContactFactory()
    now = timezone.now()
    call_log(contact=contact, owner=None, status=CallStatus.NO_ANSWER, started_at=now)
    call_log(
        contact=contact,
        owner=None,
        status=CallStatus.ANSWERED,
        outcome=CallOutcome.CONNECTED,
        started_at=now - timedelta(days=2),
        direction=Direction.INBOUND,
    )
    result = facts(contact)
    assert result["call_count"] == 2
    assert result["outgoing_call_count"] == 1
    assert result["answered_call_count"] == 1
    assert result["last_call_at"] == now
    assert result["last_call_status"] == "no_answer"
    assert result["last_reached_at"] == now - timedelta(days=2)


def test_call_log_with_external_id_is_idempotent():
    contact = ContactFactory()
    first = call_log(
        contact=contact,
        owner=None,
        status=CallStatus.ANSWERED,
        source=CallSource.HUBSPOT,
        external_id="hs-42",
    )
    again = call_log(
        contact=contact,
        owner=None,
        status=CallStatus.ANSWERED,
        source=CallSource.HUBSPOT,
        external_id="hs-42",
    )
    assert again.pk == first.pk
    assert CallRecord.objects.count() == 1
    assert facts(contact)["call_count"] == 1


def test_note_excerpt_folds_whitespace_and_cuts_long_notes():
    assert note_excerpt("a\n\n b   c") == "a b c"
    long = note_excerpt("x" * 1000)
    assert len(long) == 280 and long.endswith("…")


def test_contact_facts_rebuild_matches_call_log():
    # given contacts whose facts were built call by call
    now = timezone.now()
    busy, quiet = ContactFactory(), ContactFactory()
    for days, status, outcome in [
        (9, "answered", "connected"),
        (3, "voicemail", ""),
        (1, "answered", "booked"),
    ]:
        call_log(
            contact=busy,
            owner=busy.owner,
            status=status,
            outcome=outcome,
            note=f"day {days}",
            started_at=now - timedelta(days=days),
        )
    expected_busy, expected_quiet = facts(busy), facts(quiet)
    # when the facts are lost and rebuilt
    Contact.objects.update(
        call_count=0,
        outgoing_call_count=0,
        answered_call_count=0,
        booking_count=0,
        last_call_at=None,
        last_call_status="",
        last_activity_at=None,
    )
    assert contact_facts_rebuild() == 2
    # then
    assert facts(busy) == expected_busy
    assert facts(quiet) == expected_quiet
    assert facts(quiet)["call_count"] == 0 and facts(quiet)["last_call_at"] is None
    assert facts(quiet)["last_activity_at"] is None


def test_contact_facts_rebuild_latest_call_breaks_ties_by_id_and_counts_deal_activity():
    contact = ContactFactory()
    moment = timezone.now() - timedelta(days=4)
    CallRecordFactory(contact=contact, started_at=moment, status=CallStatus.NO_ANSWER)
    CallRecordFactory(contact=contact, started_at=moment, status=CallStatus.BUSY)
    deal = DealFactory(contact=contact, hs_updated_at=timezone.now() - timedelta(days=1))
    contact_facts_rebuild(contact_ids=[contact.pk])
    result = facts(contact)
    assert result["last_call_status"] == "busy"
    assert result["last_activity_at"] >= deal.hs_updated_at


def test_contact_facts_rebuild_twice_changes_nothing():
    contact = ContactFactory()
    CallRecordFactory(contact=contact, status=CallStatus.ANSWERED)
    contact_facts_rebuild()
    first = facts(contact)
    contact_facts_rebuild()
    assert facts(contact) == first


def test_contact_facts_rebuild_keeps_next_open_task_and_largest_open_deal():
    from leads.models import TaskStatus
    from tests.factories import TaskFactory

    contact = ContactFactory()
    soon, later = timezone.now() - timedelta(hours=2), timezone.now() + timedelta(days=2)
    TaskFactory(contact=contact, due_at=later)
    TaskFactory(contact=contact, due_at=soon)
    TaskFactory(
        contact=contact,
        due_at=soon - timedelta(days=9),
        status=TaskStatus.COMPLETED,
        completed_at=timezone.now(),
    )
    DealFactory(contact=contact, amount=25_000)
    DealFactory(contact=contact, amount=90_000, is_closed=True, is_won=True)
    contact_facts_rebuild(contact_ids=[contact.pk])
    contact.refresh_from_db()
    assert contact.next_task_due_at == soon
    assert contact.open_deal_amount == 25_000
