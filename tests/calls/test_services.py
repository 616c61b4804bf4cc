from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from calls.models import CallOutcome, CallRecord, CallSource, CallStatus, Direction, QueueState
from calls.services import CONTACT_FACT_FIELDS, call_log, contact_facts_rebuild, note_excerpt
from leads.models import OPEN_TASK_STATUSES, Contact, Deal, Task, TaskStatus, Zone
from scoring.priority import factors_active, queue_factors_expression, queue_score_expression
from tests.factories import CallRecordFactory, ContactFactory, DealFactory, TaskFactory
from tests.support import require_postgres

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


def facts_from_source_rows(contact: Contact) -> dict:
    """The facts of one contact worked out here, one query at a time and in Python, to check
    the set-based rebuild against."""
    calls = list(CallRecord.objects.filter(contact=contact).order_by("-started_at", "-id"))
    latest = calls[0] if calls else None
    open_tasks = Task.objects.filter(contact=contact, status__in=OPEN_TASK_STATUSES, is_archived=False)
    deals = list(Deal.objects.filter(contact=contact))
    open_amounts = [d.amount for d in deals if not d.is_closed and not d.is_archived and d.amount is not None]
    deal_change = max((max(d.hs_updated_at or d.updated_at, d.updated_at) for d in deals), default=None)
    return {
        "call_count": len(calls),
        "outgoing_call_count": sum(c.direction == Direction.OUTBOUND for c in calls),
        "answered_call_count": sum(c.status == CallStatus.ANSWERED for c in calls),
        "booking_count": sum(c.outcome == CallOutcome.BOOKED for c in calls),
        "last_call_at": latest.started_at if latest else None,
        "last_reached_at": max(
            (c.started_at for c in calls if c.status == CallStatus.ANSWERED), default=None
        ),
        "last_call_status": latest.status if latest else "",
        "last_call_outcome": latest.outcome if latest else "",
        "last_call_note": note_excerpt(latest.notes) if latest else "",
        "last_activity_at": max((m for m in (latest and latest.started_at, deal_change) if m), default=None),
        "next_task_due_at": min((t.due_at for t in open_tasks if t.due_at), default=None),
        "open_deal_amount": max(open_amounts, default=None),
    }


def live_scores(ids: list[int], now) -> dict[int, tuple]:
    """Score and factors from the factor expressions evaluated in a plain queryset, as the
    queue's own tests do: no compiled statement, no moment left as a parameter."""
    factors = factors_active(now=now)
    rows = Contact.objects.filter(pk__in=ids).annotate(
        live_score=queue_score_expression(factors), live_factors=queue_factors_expression(factors)
    )
    return {pk: (score, held) for pk, score, held in rows.values_list("pk", "live_score", "live_factors")}


def varied_contacts(now) -> list[Contact]:
    """Contacts that between them hold every fact and most factors."""
    busy, deals_only, new_lead, red, unqueued, quiet = ContactFactory.create_batch(6)
    for days, status, outcome, direction, note in [
        (9, CallStatus.ANSWERED, CallOutcome.BOOKED, Direction.OUTBOUND, "booked  a\n trial"),
        (3, CallStatus.VOICEMAIL, "", Direction.OUTBOUND, ""),
        (1, CallStatus.ANSWERED, CallOutcome.CONNECTED, Direction.INBOUND, "x" * 400),
        (1, CallStatus.NO_ANSWER, "", Direction.OUTBOUND, "same moment, later id: the last call"),
    ]:
        CallRecordFactory(
            contact=busy,
            started_at=now - timedelta(days=days),
            status=status,
            outcome=outcome,
            direction=direction,
            notes=note,
        )
    DealFactory(contact=deals_only, amount=25_000, hs_updated_at=now + timedelta(hours=1))
    DealFactory(contact=deals_only, amount=90_000, is_closed=True, is_won=True)
    DealFactory(contact=deals_only, amount=70_000, is_archived=True)
    TaskFactory(contact=deals_only, due_at=now - timedelta(hours=2))
    TaskFactory(contact=deals_only, due_at=now - timedelta(days=3), is_archived=True)
    TaskFactory(
        contact=deals_only, due_at=now - timedelta(days=5), status=TaskStatus.COMPLETED, completed_at=now
    )
    Contact.objects.filter(pk=new_lead.pk).update(hs_created_at=now - timedelta(hours=5))
    CallRecordFactory(contact=red, started_at=now - timedelta(days=15), status=CallStatus.BUSY)
    Contact.objects.filter(pk=red.pk).update(
        health_zone=Zone.RED,
        predictive_risk=65,
        owner_changed_at=now - timedelta(days=2),
        package_end_date=(now + timedelta(days=10)).date(),
    )
    QueueState.objects.create(contact=red, snoozed_until=now - timedelta(minutes=5))
    Contact.objects.filter(pk=unqueued.pk).update(do_not_contact=True)
    return [busy, deals_only, new_lead, red, unqueued, quiet]


def test_contact_facts_rebuild_writes_the_facts_and_scores_the_source_rows_give():
    # given contacts whose facts and scores are all wrong
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        contacts = varied_contacts(now)
        ids = [c.pk for c in contacts]
        Contact.objects.update(
            call_count=7, outgoing_call_count=7, answered_call_count=7, booking_count=7,
            last_call_at=now, last_reached_at=now, last_call_status="busy", last_call_outcome="booked",
            last_call_note="stale", last_activity_at=now, next_task_due_at=now, open_deal_amount=1,
            queue_score=1, queue_factors="stale,",
        )  # fmt: skip
        # when, in batches smaller than the contacts
        assert contact_facts_rebuild(contact_ids=ids, batch_size=4) == 6
        # then
        assert [facts(c) for c in contacts] == [facts_from_source_rows(c) for c in contacts]
        stored = Contact.objects.filter(pk__in=ids).values_list("pk", "queue_score", "queue_factors")
        scores = live_scores(ids, now)
        assert {pk: (score, held) for pk, score, held in stored} == scores
    # and the contacts did hold what the test means them to
    busy, deals_only, new_lead, red, unqueued, _ = contacts
    assert facts(busy)["last_call_note"] == "same moment, later id: the last call"
    assert facts(deals_only)["open_deal_amount"] == 25_000
    assert scores[new_lead.pk][1] == "base,new_lead_never_called,"
    assert scores[red.pk][1] == (
        "base,follow_up_due,zone_red,no_contact_14_days,risk_60,owner_changed,package_ending,"
    )
    assert scores[unqueued.pk] == (None, "")


def test_contact_facts_rebuild_query_count_does_not_grow_with_the_batch(django_assert_num_queries):
    small, large = ContactFactory.create_batch(3), ContactFactory.create_batch(30)
    for contact in small + large:
        CallRecordFactory(contact=contact)
    # savepoint; the calls, the contacts; the factor rows; savepoint, one UPDATE of the facts
    # and scores (SQLite: the facts, then the scores), the owners' figures; release, release
    queries = 9 if connection.vendor == "postgresql" else 10
    for batch in (small, large):
        with django_assert_num_queries(queries):
            contact_facts_rebuild(contact_ids=[c.pk for c in batch])


def row_versions(ids: list[int]) -> dict[int, str]:
    """PostgreSQL's xmin of each contact row: it changes when the row is rewritten."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, xmin::text FROM leads_contact WHERE id = ANY(%s)", [ids])
        return dict(cursor.fetchall())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_contact_facts_rebuild_rewrites_only_the_rows_whose_facts_or_score_changed(migrated_rows):
    require_postgres()
    contacts = ContactFactory.create_batch(4)
    for contact in contacts:
        CallRecordFactory(contact=contact)
    ids = [c.pk for c in contacts]
    contact_facts_rebuild(contact_ids=ids)
    before = row_versions(ids)
    # when nothing changed, then one contact gains a call
    contact_facts_rebuild(contact_ids=ids)
    assert row_versions(ids) == before
    CallRecordFactory(contact=contacts[2])
    contact_facts_rebuild(contact_ids=ids)
    # then
    after = row_versions(ids)
    assert [pk for pk in ids if after[pk] != before[pk]] == [contacts[2].pk]
