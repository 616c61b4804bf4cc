"""rebuild_contact_facts: recomputes every contact's call facts from the call records."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from calls.models import CallOutcome, CallStatus, Direction
from calls.services import CONTACT_FACT_FIELDS, call_log
from leads.models import Contact, TaskStatus
from tests.factories import CallRecordFactory, ContactFactory, DealFactory, OwnerFactory, TaskFactory

pytestmark = pytest.mark.django_db


def rebuild(**options) -> str:
    out = StringIO()
    call_command("rebuild_contact_facts", stdout=out, verbosity=1, **options)
    return out.getvalue()


def facts() -> list[tuple]:
    return list(Contact.objects.order_by("pk").values_list("pk", *CONTACT_FACT_FIELDS))


def test_rebuild_contact_facts_restores_facts_after_they_are_messed_up():
    # given: facts kept current by call_log, then corrupted
    owner = OwnerFactory()
    now = timezone.now()
    contacts = ContactFactory.create_batch(12, owner=owner)
    for number, contact in enumerate(contacts):
        for back in range(number % 4):
            answered = back % 2 == 0
            call_log(
                contact=contact,
                owner=owner,
                status=CallStatus.ANSWERED if answered else CallStatus.NO_ANSWER,
                outcome=CallOutcome.BOOKED if answered and number % 3 == 0 else "",
                note=f"Call {back} with   contact {number}\n",
                direction=Direction.INBOUND if back == 2 else Direction.OUTBOUND,
                started_at=now - timedelta(days=back, hours=number),
            )
    DealFactory(contact=contacts[1], amount=Decimal("12500"))
    TaskFactory(contact=contacts[2], due_at=now - timedelta(hours=3))
    call_command("rebuild_contact_facts", verbosity=0)
    correct = facts()
    Contact.objects.update(
        call_count=0, outgoing_call_count=0, answered_call_count=0, booking_count=0, last_call_at=None,
        last_reached_at=None, last_call_status="", last_call_outcome="", last_call_note="",
        last_activity_at=None, next_task_due_at=None, open_deal_amount=None,
    )  # fmt: skip
    # when
    out = rebuild(batch_size=5)
    # then
    assert facts() == correct
    assert "Rebuilt the call facts of 12 contacts" in out
    rebuilt = Contact.objects.get(pk=contacts[3].pk)
    assert (rebuilt.call_count, rebuilt.outgoing_call_count, rebuilt.answered_call_count) == (3, 2, 2)
    assert rebuilt.booking_count == 2 and rebuilt.last_call_note == "Call 0 with contact 3"


def test_rebuild_contact_facts_gives_contacts_without_calls_zeros():
    # given: stale facts on a contact whose calls are gone
    contact = ContactFactory(
        call_count=4, outgoing_call_count=4, answered_call_count=2, booking_count=1,
        last_call_at=timezone.now(), last_reached_at=timezone.now(), last_call_status="answered",
        last_call_outcome="booked", last_call_note="Booked", last_activity_at=timezone.now(),
    )  # fmt: skip
    # when
    rebuild()
    # then
    contact.refresh_from_db()
    assert (contact.call_count, contact.outgoing_call_count, contact.answered_call_count) == (0, 0, 0)
    assert contact.booking_count == 0
    assert (contact.last_call_at, contact.last_reached_at, contact.last_activity_at) == (None, None, None)
    assert (contact.last_call_status, contact.last_call_outcome, contact.last_call_note) == ("", "", "")


def test_rebuild_contact_facts_latest_call_wins_by_started_at_then_id():
    # given
    contact = ContactFactory()
    moment = timezone.now() - timedelta(hours=2)
    CallRecordFactory(contact=contact, started_at=moment, status=CallStatus.NO_ANSWER, notes="first")
    latest = CallRecordFactory(
        contact=contact,
        started_at=moment,
        status=CallStatus.ANSWERED,
        outcome=CallOutcome.CONNECTED,
        notes="tie",
    )
    # Logged later but happened earlier: never the last call.
    CallRecordFactory(
        contact=contact, started_at=moment - timedelta(days=1), status=CallStatus.BUSY, notes="old"
    )
    # when
    rebuild()
    # then
    contact.refresh_from_db()
    assert contact.last_call_at == latest.started_at == moment
    assert (contact.last_call_status, contact.last_call_outcome, contact.last_call_note) == (
        "answered", "connected", "tie",
    )  # fmt: skip
    assert contact.call_count == 3 and contact.last_reached_at == moment


def test_rebuild_contact_facts_twice_leaves_the_same_state():
    contact = ContactFactory()
    CallRecordFactory.create_batch(3, contact=contact)
    TaskFactory(contact=contact, status=TaskStatus.COMPLETED, completed_at=timezone.now())

    rebuild()
    once = facts()
    rebuild()

    assert facts() == once
    assert once[0][1] == 3


def test_rebuild_contact_facts_rejects_a_batch_size_below_one():
    with pytest.raises(CommandError, match="--batch-size"):
        rebuild(batch_size=0)
