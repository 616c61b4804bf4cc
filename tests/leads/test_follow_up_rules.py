"""Follow-up flags and priority (SPEC S3) on constructed contacts, evaluated by the database."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from crm import timeutils
from leads.models import Contact, LifecycleStage
from scoring.follow_up import Flag, Priority, annotate_flags, annotate_priority, flags_of, follow_up_rules
from tests.factories import ContactFactory, DealFactory

pytestmark = pytest.mark.django_db

# Monday 2 March 2026, 12:00 in Dubai (UTC+4): a business day, mid-morning.
MONDAY_NOON = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def local(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    """A moment in the business zone (Asia/Dubai) in March 2026."""
    return timezone.make_aware(datetime(2026, month, day, hour, minute))


def judged(contact: Contact, now: datetime) -> tuple[int, set[str]]:
    """Priority and flags as the database computes them, checked against the filter conditions
    (the table's filters and cards use those, so they must agree with the badges)."""
    rules = follow_up_rules(now=now)
    row = annotate_flags(annotate_priority(Contact.objects.filter(pk=contact.pk), rules), rules).get()
    flags = {flag.value for flag in flags_of(row)}
    for flag in Flag:
        assert Contact.objects.filter(rules.flag(flag), pk=contact.pk).exists() == (flag.value in flags), flag
    for priority in Priority:
        matches = Contact.objects.filter(rules.priority_is(priority), pk=contact.pk).exists()
        assert matches == (priority == row.follow_up_priority), priority
    return row.follow_up_priority, flags


def called(days_ago: float, now: datetime = MONDAY_NOON, **kwargs) -> Contact:
    moment = now - timedelta(days=days_ago)
    return ContactFactory(last_call_at=moment, call_count=1, outgoing_call_count=1, **kwargs)


# --- flags ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "coach", "expected"),
    [
        (LifecycleStage.CUSTOMER, "", True),
        (LifecycleStage.OPPORTUNITY, "", True),
        (LifecycleStage.OPPORTUNITY, "Coach Carla", False),
        (LifecycleStage.SQL, "", False),
        (LifecycleStage.LEAD, "", False),
    ],
)
def test_missing_coach_is_a_customer_or_opportunity_without_coach(stage, coach, expected):
    contact = called(1, lifecycle_stage=stage, assigned_coach=coach)
    assert (Flag.MISSING_COACH in judged(contact, MONDAY_NOON)[1]) is expected


def test_missing_deal_is_past_lead_without_any_deal():
    sql_without = called(1, lifecycle_stage=LifecycleStage.SQL)
    sql_with = called(1, lifecycle_stage=LifecycleStage.SQL)
    DealFactory(contact=sql_with, is_closed=True, is_won=True)
    only_archived = called(1, lifecycle_stage=LifecycleStage.CUSTOMER)
    DealFactory(contact=only_archived, is_archived=True)
    lead_without = called(1, lifecycle_stage=LifecycleStage.LEAD)

    assert Flag.MISSING_DEAL in judged(sql_without, MONDAY_NOON)[1]
    assert Flag.MISSING_DEAL not in judged(sql_with, MONDAY_NOON)[1]
    assert Flag.MISSING_DEAL in judged(only_archived, MONDAY_NOON)[1]
    assert Flag.MISSING_DEAL not in judged(lead_without, MONDAY_NOON)[1]


def test_no_calls_made_and_overdue_task():
    never = ContactFactory(call_count=0, hs_created_at=MONDAY_NOON - timedelta(days=2))
    overdue = called(1, next_task_due_at=MONDAY_NOON - timedelta(minutes=1))
    due_later = called(1, next_task_due_at=MONDAY_NOON + timedelta(minutes=1))
    assert Flag.NO_CALLS in judged(never, MONDAY_NOON)[1]
    assert Flag.NO_CALLS not in judged(overdue, MONDAY_NOON)[1]
    assert Flag.OVERDUE_TASK in judged(overdue, MONDAY_NOON)[1]
    assert Flag.OVERDUE_TASK not in judged(due_later, MONDAY_NOON)[1]


def test_going_cold_starts_after_seven_business_days_at_midnight_in_the_business_zone():
    # Monday 2 March: "more than 7 days" means a last call on 22 February or before (Dubai days).
    warm = ContactFactory(last_call_at=local(23, 0, 1, month=2) + timedelta(days=1), call_count=1)  # 24 Feb
    boundary_warm = ContactFactory(last_call_at=local(23, 0, 1, month=2), call_count=1)  # 23 Feb 00:01
    cold = ContactFactory(last_call_at=local(22, 23, 59, month=2), call_count=1)  # 22 Feb 23:59
    assert Flag.GOING_COLD in judged(cold, MONDAY_NOON)[1]
    assert Flag.GOING_COLD not in judged(boundary_warm, MONDAY_NOON)[1]
    assert Flag.GOING_COLD not in judged(warm, MONDAY_NOON)[1]
    # 22 Feb 23:59 in Dubai is 19:59 UTC: the UTC date would say the same day, the zone decides.
    assert timeutils.days_since(cold.last_call_at, at=MONDAY_NOON) == 8


def test_going_cold_only_while_lead_or_mql_and_counts_a_never_called_lead_from_creation():
    old_sql = ContactFactory(
        lifecycle_stage=LifecycleStage.SQL, last_call_at=local(1, 10, month=2), call_count=1
    )
    never_old = ContactFactory(call_count=0, hs_created_at=local(20, 10, month=2))
    never_new = ContactFactory(call_count=0, hs_created_at=local(26, 10, month=2))
    mql = ContactFactory(lifecycle_stage=LifecycleStage.MQL, last_call_at=local(1, 10, month=2), call_count=1)
    assert Flag.GOING_COLD not in judged(old_sql, MONDAY_NOON)[1]
    assert Flag.GOING_COLD in judged(never_old, MONDAY_NOON)[1]
    assert Flag.GOING_COLD not in judged(never_new, MONDAY_NOON)[1]
    assert Flag.GOING_COLD in judged(mql, MONDAY_NOON)[1]


# --- speed to lead: 15 minutes of business hours (09:00-18:00 Monday-Friday) --------------


@pytest.mark.parametrize(
    ("created", "now", "breached"),
    [
        # Monday morning, inside business hours: 14 minutes is in time, 16 is late.
        (local(2, 9, 6), local(2, 9, 20), False),
        (local(2, 9, 4), local(2, 9, 20), True),
        (local(2, 9, 5), local(2, 9, 20), True),  # exactly 15 minutes: the time is up
        # Arrived Sunday night (closed): the clock starts at Monday 09:00.
        (local(1, 22, 0), local(2, 9, 14), False),
        (local(1, 22, 0), local(2, 9, 15), True),
        # Friday 17:55: 5 minutes on Friday + 9 on Monday = 14; at 09:11 it is 16.
        (local(27, 17, 55, month=2), local(2, 9, 9), False),
        (local(27, 17, 55, month=2), local(2, 9, 11), True),
        # Friday after closing, checked on Saturday: no business time has passed at all.
        (local(27, 18, 30, month=2), local(28, 15, 0, month=2), False),
    ],
)
def test_speed_to_lead_counts_only_business_hours(created, now, breached):
    lead = ContactFactory(call_count=0, hs_created_at=created)
    assert (Flag.SPEED_TO_LEAD in judged(lead, now)[1]) is breached


def test_speed_to_lead_follows_the_configured_response_time(settings):
    settings.SPEED_TO_LEAD_MINUTES = 60
    lead = ContactFactory(call_count=0, hs_created_at=local(2, 9, 0))
    assert Flag.SPEED_TO_LEAD not in judged(lead, local(2, 9, 59))[1]
    assert Flag.SPEED_TO_LEAD in judged(lead, local(2, 10, 0))[1]


def test_speed_to_lead_is_only_for_new_leads_never_called():
    called_lead = ContactFactory(call_count=1, last_call_at=local(2, 9, 30), hs_created_at=local(2, 9, 0))
    customer = ContactFactory(
        call_count=0, lifecycle_stage=LifecycleStage.CUSTOMER, hs_created_at=local(2, 9, 0)
    )
    gone_cold = ContactFactory(call_count=0, hs_created_at=local(10, 9, 0, month=2))
    now = local(2, 11, 0)
    assert Flag.SPEED_TO_LEAD not in judged(called_lead, now)[1]
    assert Flag.SPEED_TO_LEAD not in judged(customer, now)[1]
    assert judged(gone_cold, now)[1] >= {Flag.GOING_COLD, Flag.NO_CALLS}
    assert Flag.SPEED_TO_LEAD not in judged(gone_cold, now)[1]


def test_business_time_before_walks_back_over_closed_hours_and_days():
    assert timeutils.business_time_before(local(2, 9, 20), 15) == local(2, 9, 5)
    assert timeutils.business_time_before(local(2, 9, 10), 15) == local(27, 17, 55, month=2)
    assert timeutils.business_time_before(local(2, 7, 0), 15) == local(27, 17, 45, month=2)
    assert timeutils.business_time_before(local(2, 20, 0), 60) == local(2, 17, 0)


# --- priority -------------------------------------------------------------------------


def test_never_called_is_high():
    assert judged(ContactFactory(call_count=0, hs_created_at=MONDAY_NOON), MONDAY_NOON)[0] == Priority.HIGH


def test_overdue_task_is_high_even_when_called_today():
    contact = called(0.01, next_task_due_at=MONDAY_NOON - timedelta(hours=1))
    assert judged(contact, MONDAY_NOON)[0] == Priority.HIGH


def test_going_cold_with_a_deal_over_ten_thousand_is_high_but_not_at_exactly_ten_thousand():
    big = called(10, open_deal_amount=Decimal("10000.01"))
    exactly = called(10, open_deal_amount=Decimal("10000"))
    assert judged(big, MONDAY_NOON)[0] == Priority.HIGH
    # not HIGH, but 10 days without a call is MEDIUM
    assert judged(exactly, MONDAY_NOON)[0] == Priority.MEDIUM


def test_a_big_deal_that_is_not_going_cold_is_not_high():
    sql = called(10, lifecycle_stage=LifecycleStage.SQL, open_deal_amount=Decimal("50000"))
    assert judged(sql, MONDAY_NOON)[0] == Priority.MEDIUM


def test_no_call_for_three_business_days_is_medium_two_is_low():
    # Monday: a call on Friday 27 Feb (3 days) vs Saturday 28 Feb (2 days), Dubai dates.
    three = ContactFactory(last_call_at=local(27, 23, 30, month=2), call_count=1)
    two = ContactFactory(last_call_at=local(28, 0, 30, month=2), call_count=1)
    assert judged(three, MONDAY_NOON)[0] == Priority.MEDIUM
    assert judged(two, MONDAY_NOON)[0] == Priority.LOW


def test_missing_coach_with_an_open_deal_is_medium_without_a_deal_low():
    with_deal = called(1, lifecycle_stage=LifecycleStage.CUSTOMER, open_deal_amount=Decimal("500"))
    without = called(1, lifecycle_stage=LifecycleStage.CUSTOMER)
    assert judged(with_deal, MONDAY_NOON)[0] == Priority.MEDIUM
    assert judged(without, MONDAY_NOON)[0] == Priority.LOW


def test_rules_default_to_now():
    with time_machine.travel(MONDAY_NOON, tick=False):
        assert follow_up_rules().now == MONDAY_NOON
