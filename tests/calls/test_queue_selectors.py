"""Who is in the call queue, in which order, and the summary cards."""

from datetime import timedelta

import pytest
from django.utils import timezone

from calls.models import QueueState
from calls.selectors import QueueFilters, activity_today, call_queue
from calls.services import call_log
from leads.models import LifecycleStage, Zone
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def ago(**kwargs):
    return timezone.now() - timedelta(**kwargs)


def queue_ids(user, **filters):
    return [entry.contact.pk for entry in call_queue(user=user, filters=QueueFilters(**filters)).entries]


def test_queue_lists_due_contacts_by_priority(setter):
    owner = setter.owner
    red = ContactFactory(owner=owner, health_zone=Zone.RED, last_call_at=ago(days=15), call_count=1)
    yellow = ContactFactory(owner=owner, health_zone=Zone.YELLOW, last_call_at=ago(days=4), call_count=1)
    fresh_lead = ContactFactory(owner=owner, hs_created_at=ago(minutes=3))
    assert queue_ids(setter) == [fresh_lead.pk, red.pk, yellow.pk]
    entry = call_queue(user=setter, filters=QueueFilters()).entries[1]
    assert entry.priority == 8 and entry.reason == "URGENT: RED zone · 15 days no contact"
    assert entry.days_since_contact == 15


def test_queue_leaves_out_snoozed_recently_called_do_not_contact_archived_merged_and_lost(setter):
    owner = setter.owner
    kept = ContactFactory(owner=owner)
    snoozed = ContactFactory(owner=owner)
    QueueState.objects.create(contact=snoozed, snoozed_until=timezone.now() + timedelta(hours=3))
    snooze_over = ContactFactory(owner=owner)
    QueueState.objects.create(contact=snooze_over, snoozed_until=ago(minutes=1))
    called = ContactFactory(owner=owner, next_task_due_at=ago(days=1))
    call_log(contact=called, owner=owner, status="no_answer", started_at=ago(minutes=20))
    ContactFactory(owner=owner, do_not_contact=True)
    ContactFactory(owner=owner, is_archived=True)
    ContactFactory(owner=owner, merged_into=kept)
    ContactFactory(owner=owner, lifecycle_stage=LifecycleStage.LOST)
    assert sorted(queue_ids(setter)) == sorted([kept.pk, snooze_over.pk])


def test_setter_never_sees_another_setters_leads(setter, other_setter):
    mine = ContactFactory(owner=setter.owner)
    ContactFactory(owner=other_setter.owner)
    assert queue_ids(setter) == [mine.pk]
    # asking for the other owner's queue gives nothing, not their leads
    assert queue_ids(setter, owner=other_setter.owner) == []


def test_manager_sees_all_owners_or_one(manager, setter, other_setter):
    mine = ContactFactory(owner=setter.owner)
    theirs = ContactFactory(owner=other_setter.owner)
    assert sorted(queue_ids(manager)) == sorted([mine.pk, theirs.pk])
    assert queue_ids(manager, owner=other_setter.owner) == [theirs.pk]


def test_days_threshold_and_overdue_tasks(setter):
    owner = setter.owner
    two_days = ContactFactory(owner=owner, last_call_at=ago(days=2), call_count=1)
    five_days = ContactFactory(owner=owner, last_call_at=ago(days=5), call_count=1)
    overdue = ContactFactory(
        owner=owner, last_call_at=ago(days=1), call_count=1, next_task_due_at=ago(hours=2)
    )
    assert sorted(queue_ids(setter)) == sorted([five_days.pk, overdue.pk])
    assert sorted(queue_ids(setter, days_threshold=2)) == sorted([two_days.pk, five_days.pk, overdue.pk])
    assert sorted(queue_ids(setter, days_threshold=7)) == [overdue.pk]


def test_zone_filter_keeps_worrying_clients_and_all_leads_unless_all_zones(setter):
    owner = setter.owner
    green = ContactFactory(owner=owner, health_zone=Zone.GREEN, lifecycle_stage=LifecycleStage.CUSTOMER)
    orange = ContactFactory(owner=owner, health_zone=Zone.ORANGE, lifecycle_stage=LifecycleStage.CUSTOMER)
    lead = ContactFactory(owner=owner)
    assert sorted(queue_ids(setter)) == sorted([orange.pk, lead.pk])
    assert sorted(queue_ids(setter, include_all_zones=True)) == sorted([green.pk, orange.pk, lead.pk])


def test_limit_and_summary_cards(setter):
    owner = setter.owner
    ContactFactory.create_batch(2, owner=owner, health_zone=Zone.RED, last_call_at=ago(days=20), call_count=1)
    ContactFactory.create_batch(
        3, owner=owner, health_zone=Zone.YELLOW, last_call_at=ago(days=8), call_count=1
    )
    ContactFactory.create_batch(4, owner=owner, last_call_at=ago(days=4), call_count=1)
    done_today = ContactFactory(owner=owner)
    call_log(contact=done_today, owner=owner, status="answered", outcome="booked")
    queue = call_queue(user=setter, filters=QueueFilters(limit=3))
    assert len(queue.entries) == 3
    # RED 20 days: 3+3+2 = 8 urgent; YELLOW 8 days: 3+2+1.5 = 6.5 -> 7 high; plain 4 days: 3
    assert (queue.summary.total, queue.summary.urgent, queue.summary.high) == (9, 2, 3)
    assert queue.summary.contacted_today == 1


def test_queue_query_count_does_not_grow_with_entries(setter, django_assert_max_num_queries):
    ContactFactory.create_batch(30, owner=setter.owner, health_zone=Zone.RED)
    with django_assert_max_num_queries(4):  # the user's groups and owner, the factor table, the entries
        queue = call_queue(user=setter, filters=QueueFilters())
        assert len(queue.entries) == 30
        [entry.contact.owner.full_name for entry in queue.entries]


def test_activity_today_counts_calls_reached_bookings_and_conversion(setter, other_setter):
    owner = setter.owner
    contact = ContactFactory(owner=owner)
    call_log(contact=contact, owner=owner, status="no_answer")
    call_log(contact=contact, owner=owner, status="answered", outcome="connected")
    call_log(contact=contact, owner=owner, status="answered", outcome="booked")
    call_log(contact=contact, owner=owner, status="answered", started_at=ago(days=1, hours=1))
    other = ContactFactory(owner=other_setter.owner)
    call_log(contact=other, owner=other_setter.owner, status="answered")
    activity = activity_today(user=setter, owner=owner)
    assert (activity.calls, activity.reached, activity.bookings) == (3, 2, 1)
    assert activity.conversion_rate == 0.5
