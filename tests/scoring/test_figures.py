"""Kept per-owner follow-up figures (scoring.figures): always the counts a full count would give,
however they were reached: writes through the services, midnight, a task coming due, a read racing
a write, and the five-minute job mending a write that bypassed the services."""

from datetime import timedelta

import pytest
import time_machine
from django.db.models import Count

from calls.services import call_log
from crm import timeutils
from leads.models import Contact, LifecycleStage
from leads.services import contacts_reassign
from scoring import figures
from scoring.figures import (
    follow_up_figures,
    follow_up_figures_forget,
    follow_up_figures_refresh,
)
from scoring.follow_up import FOLLOW_UP_LEADS, Priority, follow_up_rules
from scoring.models import FollowUpFigures
from scoring.tasks import refresh_queue_scores_task
from tests.factories import ContactFactory, OwnerFactory

pytestmark = pytest.mark.django_db

# A Tuesday, mid-afternoon in the business zone (Asia/Dubai, UTC+4).
NOON = timeutils.start_of_day(timeutils.business_today()).replace(year=2026, month=11, day=17, hour=14)


def counted_from_scratch(now) -> dict:
    """What the grouped pass over every lead says, without the kept rows."""
    rules = follow_up_rules(now=now)
    grouped = (
        Contact.objects.filter(FOLLOW_UP_LEADS)
        .values("owner_id")
        .annotate(
            leads=Count("*"),
            high=Count("pk", filter=rules.priority_is(Priority.HIGH)),
            medium=Count("pk", filter=rules.priority_is(Priority.MEDIUM)),
            going_cold=Count("pk", filter=rules.going_cold),
            missing_coach=Count("pk", filter=rules.missing_coach),
            overdue=Count("pk", filter=rules.overdue_task),
        )
        .order_by()
    )
    return {row.pop("owner_id"): row for row in grouped}


def kept(now) -> dict:
    rows = follow_up_figures(rules=follow_up_rules(now=now))
    return {owner: {k: v for k, v in row.items() if k != "called_today"} for owner, row in rows.items()}


@pytest.fixture
def book():
    """Two owners and some unowned leads in every state the figures count."""
    ana, ben = OwnerFactory(), OwnerFactory()
    at = NOON
    ContactFactory(owner=ana, last_call_at=at - timedelta(days=1), call_count=1)
    ContactFactory(owner=ana, last_call_at=at - timedelta(days=5), call_count=2)  # MEDIUM
    ContactFactory(owner=ana, last_call_at=at - timedelta(days=7), call_count=1)  # cold tomorrow
    ContactFactory(owner=ana, call_count=0)  # never called: HIGH
    ContactFactory(
        owner=ben,
        lifecycle_stage=LifecycleStage.CUSTOMER,
        assigned_coach="",
        last_call_at=at - timedelta(hours=3),
        call_count=4,
    )
    ContactFactory(owner=ben, last_call_at=at - timedelta(days=20), call_count=3)  # going cold
    ContactFactory(owner=None, last_call_at=at - timedelta(days=2), call_count=1)
    ContactFactory(owner=ana, is_archived=True, call_count=0)  # not a row of the table
    return ana, ben


def test_kept_figures_equal_a_full_count(book):
    with time_machine.travel(NOON, tick=False):
        assert kept(NOON) == counted_from_scratch(NOON)
        assert FollowUpFigures.objects.filter(valid_until__isnull=False).count() == 3
        # Read again: nothing is counted, the rows are read.
        assert kept(NOON) == counted_from_scratch(NOON)


def test_a_read_of_kept_rows_counts_nothing(book, django_assert_num_queries):
    with time_machine.travel(NOON, tick=False):
        follow_up_figures(rules=follow_up_rules(now=NOON))
        with django_assert_num_queries(2):  # the owners' ids, their kept rows
            follow_up_figures(rules=follow_up_rules(now=NOON))


def test_a_call_logged_through_the_service_shows_at_once(book):
    ana, _ = book
    never_called = Contact.objects.get(owner=ana, call_count=0, is_archived=False)
    with time_machine.travel(NOON, tick=False):
        before = follow_up_figures(rules=follow_up_rules(now=NOON))[ana.pk]
        call_log(contact=never_called, owner=ana, status="answered")
        after = follow_up_figures(rules=follow_up_rules(now=NOON))[ana.pk]
    assert after["high"] == before["high"] - 1
    assert after["called_today"] == before["called_today"] + 1
    assert kept(NOON) == counted_from_scratch(NOON)


def test_reassignment_moves_the_counts_between_owners(book):
    ana, ben = book
    with time_machine.travel(NOON, tick=False):
        follow_up_figures(rules=follow_up_rules(now=NOON))
        contacts_reassign(
            contact_ids=Contact.objects.filter(owner=ana).values_list("pk", flat=True), to_owner=ben
        )
        rows = follow_up_figures(rules=follow_up_rules(now=NOON))
    assert ana.pk not in rows  # no leads left: left out
    assert rows[ben.pk]["leads"] == 6
    assert kept(NOON) == counted_from_scratch(NOON)


def test_midnight_turns_the_days_without_a_write(book):
    ana, _ = book
    with time_machine.travel(NOON, tick=False):
        today = follow_up_figures(rules=follow_up_rules(now=NOON))[ana.pk]
    tomorrow_morning = NOON + timedelta(hours=12)  # 02:00 the next business day
    with time_machine.travel(tomorrow_morning, tick=False):
        tomorrow = follow_up_figures(rules=follow_up_rules(now=tomorrow_morning))[ana.pk]
        assert kept(tomorrow_morning) == counted_from_scratch(tomorrow_morning)
    assert tomorrow["going_cold"] == today["going_cold"] + 1  # last called 8 business days ago now


def test_a_task_coming_due_makes_it_overdue_without_a_write(book):
    ana, _ = book
    due = NOON + timedelta(hours=2)
    ContactFactory(owner=ana, last_call_at=NOON - timedelta(days=1), call_count=1, next_task_due_at=due)
    with time_machine.travel(NOON, tick=False):
        before = follow_up_figures(rules=follow_up_rules(now=NOON))[ana.pk]
        assert FollowUpFigures.objects.get(owner_key=ana.pk).valid_until == due
    later = due + timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        after = follow_up_figures(rules=follow_up_rules(now=later))[ana.pk]
    assert (before["overdue"], after["overdue"]) == (0, 1)
    assert after["high"] == before["high"] + 1


def test_a_count_that_raced_a_write_is_not_kept(book):
    ana, _ = book
    rules = follow_up_rules(now=NOON)
    follow_up_figures(rules=rules)
    version = FollowUpFigures.objects.get(owner_key=ana.pk).version
    # A read counts with the version it saw; a write lands before the read stores its count.
    follow_up_figures_forget([ana.pk])
    figures._recount([ana.pk], rules, versions={ana.pk: version})
    assert FollowUpFigures.objects.get(owner_key=ana.pk).valid_until is None


def test_a_count_made_before_any_row_loses_to_a_writes_placeholder():
    owner = OwnerFactory()
    rules = follow_up_rules(now=NOON)
    FollowUpFigures.objects.all().delete()
    follow_up_figures_forget([owner.pk])  # a write: a placeholder row
    figures._recount([owner.pk], rules, versions={})  # a read that saw no row
    assert FollowUpFigures.objects.get(owner_key=owner.pk).valid_until is None


def test_the_five_minute_job_mends_a_write_that_bypassed_the_services(book):
    ana, _ = book
    with time_machine.travel(NOON, tick=False):
        follow_up_figures(rules=follow_up_rules(now=NOON))
        Contact.objects.filter(owner=ana).update(assigned_coach="", lifecycle_stage=LifecycleStage.CUSTOMER)
        assert kept(NOON) != counted_from_scratch(NOON)  # nobody said
        refresh_queue_scores_task()
        assert kept(NOON) == counted_from_scratch(NOON)
        assert follow_up_figures_refresh() == 3  # both owners and the unowned leads
