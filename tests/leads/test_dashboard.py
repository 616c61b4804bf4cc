"""The manager dashboard's figures, each against values worked out by hand on constructed data,
with business days in Dubai (UTC+4): a call at 23:59 Dubai is a different day from 00:01."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from calls.models import CallOutcome, CallStatus
from leads.dashboard import (
    bookings_by_owner,
    leads_not_reached,
    owner_change_drops,
    revenue_trend,
    trend_chart,
)
from leads.models import LifecycleStage, OwnerChangeSource, PatternStatus, Zone
from leads.services import contacts_reassign, health_score_record
from scoring.models import RevenueAtRiskSnapshot, SnapshotSource
from tests.factories import CallRecordFactory, ContactFactory, OwnerFactory

pytestmark = pytest.mark.django_db

# Tuesday 10 March 2026, 14:00 in Dubai.
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _dubai(settings):
    settings.TIME_ZONE = "Asia/Dubai"
    settings.BUSINESS_WEEK_START = 1
    settings.REVENUE_AT_RISK_MIN_RISK = 60


def utc(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


# --- Leads not reached -------------------------------------------------------------------------


def _not_reached_world(setter, other_setter):
    """Urgent is the queue's priority 8+ (raw 7.5+), as the factories score each contact: base 3,
    RED +3, ORANGE +2.5, risk 75+ +2 / 60+ +1, 14+ days +2 / 7+ days +1.5, pattern break +2,
    never called +1.5."""
    sam, olga = setter.owner, other_setter.owner
    # 3 + 3 + 2 + 1.5 = 9.5: urgent. 7 days ago by the business day: 23:59 Dubai on 3 March is
    # before the 7-day boundary (00:00 Dubai on 4 March); 00:01 on 4 March is only 6 days ago.
    ContactFactory(owner=sam, last_call_at=utc(3, 19, 59), health_zone=Zone.RED, predictive_risk=80)
    ContactFactory(owner=sam, last_call_at=utc(3, 20, 1), health_zone=Zone.RED, predictive_risk=90)
    # 3 + 1.5 + 2 + 1 = 7.5: urgent. Never called: waiting since it was created (28 February,
    # 10 days), unless created recently.
    ContactFactory(
        owner=sam,
        last_call_at=None,
        hs_created_at=utc(28, 10, month=2),
        pattern_status=PatternStatus.PATTERN_BREAK,
        predictive_risk=60,
    )
    ContactFactory(owner=sam, last_call_at=None, hs_created_at=NOW - timedelta(days=2))
    # Never counted: archived, do-not-contact, a stage nobody follows up, merged.
    long_ago = utc(1, 10, month=2)
    ContactFactory(owner=sam, last_call_at=long_ago, is_archived=True)
    ContactFactory(owner=sam, last_call_at=long_ago, do_not_contact=True)
    ContactFactory(owner=sam, last_call_at=long_ago, lifecycle_stage=LifecycleStage.LOST)
    survivor = ContactFactory(owner=sam, last_call_at=NOW - timedelta(hours=2))
    ContactFactory(owner=sam, last_call_at=long_ago, merged_into=survivor)
    # Olga: 18 days, ORANGE, risk just under the threshold: 3 + 2.5 + 2 = 7.5, urgent.
    ContactFactory(
        owner=olga,
        last_call_at=utc(20, 10, month=2),
        health_zone=Zone.ORANGE,
        predictive_risk=59,
        queue_score=75,
    )
    # Nobody's: 30 days, a lead: 3 + 2 = 5, not urgent.
    ContactFactory(owner=None, last_call_at=utc(8, 10, month=2))


@time_machine.travel(NOW, tick=False)
def test_leads_not_reached_counts_per_owner_and_in_total(manager, setter, other_setter):
    # given
    _not_reached_world(setter, other_setter)
    # when
    figures = leads_not_reached(user=manager, days=7)
    # then
    rows = {
        (r.owner_name, r.total, r.urgent, r.high_risk, r.red_zone, r.pattern_breaks, r.avg_days)
        for r in figures.rows
    }
    assert rows == {
        ("Sam Setter", 2, 2, 2, 1, 1, 8.5),
        ("Olga Other", 1, 1, 0, 0, 0, 18.0),
        ("Unassigned", 1, 0, 0, 0, 0, 30.0),
    }
    assert [r.owner_name for r in figures.rows] == ["Sam Setter", "Olga Other", "Unassigned"]
    assert (figures.total, figures.urgent, figures.high_risk, figures.red_zone, figures.pattern_breaks) == (
        4,
        3,
        2,
        1,
        1,
    )
    assert figures.avg_days == pytest.approx(16.25)


@time_machine.travel(NOW, tick=False)
def test_leads_not_reached_window_is_changeable(manager, setter, other_setter):
    _not_reached_world(setter, other_setter)

    # 6 days: the 00:01-on-4-March call is now old enough, and the lead created 2 days ago is not.
    figures = leads_not_reached(user=manager, days=6)

    sam = next(r for r in figures.rows if r.owner_name == "Sam Setter")
    assert sam.total == 3
    assert leads_not_reached(user=manager, days=20).total == 1  # only the 30-day one


@time_machine.travel(NOW, tick=False)
def test_leads_not_reached_shows_a_setter_only_their_own(setter, other_setter):
    _not_reached_world(setter, other_setter)

    figures = leads_not_reached(user=setter, days=7)

    assert [r.owner_name for r in figures.rows] == ["Sam Setter"]
    assert figures.total == 2


# --- Revenue at risk ----------------------------------------------------------------------------


def _client(**kwargs):
    return ContactFactory(lifecycle_stage=LifecycleStage.CUSTOMER, **kwargs)


@time_machine.travel(NOW, tick=False)
def test_revenue_at_risk_now_sums_the_latest_package_value_of_clients_at_or_above_the_threshold(settings):
    older, newer = NOW - timedelta(days=9), NOW - timedelta(days=1)
    rising = _client()
    health_score_record(
        contact=rising, score=50, predictive_risk=50, package_value=Decimal(10_000), computed_at=older
    )
    health_score_record(
        contact=rising, score=30, predictive_risk=70, package_value=Decimal(12_000), computed_at=newer
    )
    at_threshold = _client()
    health_score_record(
        contact=at_threshold, score=40, predictive_risk=60, package_value=Decimal(5_000), computed_at=newer
    )
    just_under = _client()
    health_score_record(
        contact=just_under, score=41, predictive_risk=59, package_value=Decimal(50_000), computed_at=newer
    )
    archived = _client(is_archived=True)
    health_score_record(
        contact=archived, score=10, predictive_risk=90, package_value=Decimal(7_000), computed_at=newer
    )
    _client(predictive_risk=65)  # at risk, but no package on record: counted as a client, AED 0

    trend = revenue_trend()

    assert (trend.now.amount, trend.now.clients) == (Decimal(17_000), 3)
    settings.REVENUE_AT_RISK_MIN_RISK = 50
    assert revenue_trend().now.amount == Decimal(67_000)


@time_machine.travel(NOW, tick=False)
def test_revenue_trend_reads_snapshots_and_the_change_from_a_week_and_a_month_ago():
    client = _client()
    health_score_record(
        contact=client, score=20, predictive_risk=80, package_value=Decimal(9_000), computed_at=NOW
    )
    today = date(2026, 3, 10)
    for back, amount in [(30, 4_000), (7, 6_000), (3, 8_000), (31, 1)]:
        RevenueAtRiskSnapshot.objects.create(
            day=today - timedelta(days=back),
            revenue_at_risk=Decimal(amount),
            clients_at_risk=1,
            min_risk=60,
            source=SnapshotSource.LIVE,
            taken_at=NOW,
        )

    trend = revenue_trend()

    assert trend.week_ago == Decimal(6_000) and trend.week_change == Decimal(3_000)
    assert trend.month_ago == Decimal(4_000) and trend.month_change == Decimal(5_000)
    # A chart runs from N days ago (the figure the change compares with) to today's live figure.
    assert [(p.day, p.amount) for p in trend.week.points] == [
        (date(2026, 3, 3), 6_000),
        (date(2026, 3, 7), 8_000),
        (today, 9_000),
    ]
    assert [p.amount for p in trend.month.points] == [4_000, 6_000, 8_000, 9_000]  # the 31-day one is out


def test_trend_chart_places_days_on_the_axis_and_scales_amounts():
    today = date(2026, 3, 10)
    series = [(date(2026, 3, 4), Decimal(100)), (date(2026, 3, 7), Decimal(300)), (today, Decimal(200))]

    chart = trend_chart(series, days=7, today=today)

    # x: 6 px padding + 308 px over the 7 day-steps from 3 March; y: the highest amount at the top.
    assert [(p.x, p.y) for p in chart.points] == [(50.0, 90.0), (182.0, 6.0), (314.0, 48.0)]
    assert chart.polyline == "50.0,90.0 182.0,6.0 314.0,48.0"
    assert (chart.low, chart.high, chart.change) == (100, 300, 100)
    assert chart.change_percent == 100.0
    assert trend_chart([], days=7, today=today).points == []


# --- Bookings -----------------------------------------------------------------------------------


def _booked(owner, at, outcome=CallOutcome.BOOKED):
    CallRecordFactory(
        contact=ContactFactory(owner=owner),
        owner=owner,
        status=CallStatus.ANSWERED,
        outcome=outcome,
        started_at=at,
    )


# Monday 9 March 2026, 14:00 Dubai: yesterday (Sunday) belongs to last week.
MONDAY = datetime(2026, 3, 9, 10, 0, tzinfo=UTC)


@time_machine.travel(MONDAY, tick=False)
def test_bookings_yesterday_and_this_week_against_the_weekly_target_on_a_monday():
    sam = OwnerFactory(first_name="Sam", last_name="S", weekly_booking_target=5)
    olga = OwnerFactory(first_name="Olga", last_name="O", weekly_booking_target=2)
    OwnerFactory(first_name="Idle", last_name="I", is_active=False)
    gone = OwnerFactory(first_name="Gone", last_name="G", is_active=False, weekly_booking_target=0)
    _booked(sam, utc(8, 19, 59))  # 23:59 Sunday: yesterday, last week
    _booked(sam, utc(8, 20, 1))  # 00:01 Monday: this week
    _booked(sam, utc(9, 9))
    _booked(sam, utc(9, 9, 30), outcome=CallOutcome.CONNECTED)  # not a booking
    _booked(sam, utc(7, 9))  # Saturday: neither
    _booked(olga, utc(9, 6))
    _booked(olga, utc(9, 7))
    _booked(gone, utc(8, 12))  # left the team, still booked yesterday

    bookings = bookings_by_owner()

    rows = {r.owner_name: (r.yesterday, r.this_week, r.weekly_target, r.status) for r in bookings.rows}
    assert rows == {
        "Sam S": (1, 2, 5, "needs 3 more to hit this week's target"),
        "Olga O": (0, 2, 2, "weekly target reached"),
        "Gone G": (1, 0, 0, "no weekly target set"),
    }
    assert bookings.rows[0].owner_name == "Sam S"  # furthest behind first
    assert (bookings.yesterday, bookings.this_week) == (2, 4)
    assert [r.owner_name for r in bookings.behind] == ["Sam S"]


@time_machine.travel(datetime(2026, 3, 11, 10, 0, tzinfo=UTC), tick=False)
def test_bookings_yesterday_counts_in_this_week_midweek():
    sam = OwnerFactory(first_name="Sam", last_name="S", weekly_booking_target=3)
    _booked(sam, utc(10, 12))  # Tuesday
    _booked(sam, utc(9, 12))  # Monday

    (row,) = bookings_by_owner().rows

    assert (row.yesterday, row.this_week, row.remaining) == (1, 2, 1)
    assert row.status == "needs 1 more to hit this week's target"


# --- Owner changes ------------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_owner_change_drops_compare_health_at_the_change_with_now(manager, setter, other_setter):
    sam, olga = setter.owner, other_setter.owner

    def client(first_name, scores, changes, called_at=None):
        contact = _client(first_name=first_name, owner=sam, last_call_at=called_at)
        for score, at in scores:
            health_score_record(contact=contact, score=score, computed_at=at)
        for to_owner, at in changes:
            contacts_reassign(
                contact_ids=[contact.pk], to_owner=to_owner, source=OwnerChangeSource.MANUAL, at=at
            )
        return contact

    quiet = client("Quiet", [(70, utc(1, 6)), (50, utc(6, 6))], [(olga, utc(3, 6))])
    client("Small", [(70, utc(1, 6)), (60, utc(6, 6))], [(olga, utc(3, 6))])  # -10: not enough
    client("Old", [(90, utc(1, 6, month=1)), (40, utc(6, 6))], [(olga, utc(29, 6, month=1))])  # 40 days ago
    # Two changes: the latest one (health 60 then) is the one that counts, so -10.
    client(
        "Twice",
        [(80, utc(15, 6, month=2)), (60, utc(4, 6)), (50, utc(7, 6))],
        [(olga, utc(20, 6, month=2)), (sam, utc(5, 6))],
    )
    red = client("Red", [(75, utc(1, 6)), (25, utc(8, 6))], [(olga, utc(2, 6))], called_at=utc(4, 6))

    drops = owner_change_drops(user=manager)

    assert [(d.contact.first_name, d.health_before, d.health_after, d.drop, d.days_since) for d in drops] == [
        ("Red", 75, 25, 50, 8),
        ("Quiet", 70, 50, 20, 7),
    ]
    assert drops[0].contact == red and drops[0].called_since_change
    assert drops[0].suggested_action.startswith("RED now: Olga to call today")
    assert drops[1].contact == quiet and not drops[1].called_since_change
    assert drops[1].suggested_action == "Olga has not called since the handover: introduce yourself today"
    assert owner_change_drops(user=setter) == []  # the clients are Olga's now
    assert len(owner_change_drops(user=other_setter)) == 2


@time_machine.travel(NOW, tick=False)
def test_owner_change_drops_of_one_owner_are_chosen_before_the_limit(manager, setter, other_setter):
    """One owner's drops are not cut by a limit taken over everyone's (the Explain "today" text)."""
    sam, olga = setter.owner, other_setter.owner
    for first_name, to_owner, after in [("Big", olga, 20), ("Bigger", olga, 10), ("Sams", sam, 50)]:
        contact = _client(first_name=first_name, owner=olga if to_owner == sam else sam)
        health_score_record(contact=contact, score=90, computed_at=utc(1, 6))
        contacts_reassign(contact_ids=[contact.pk], to_owner=to_owner, at=utc(3, 6))
        health_score_record(contact=contact, score=after, computed_at=utc(6, 6))

    assert [d.contact.first_name for d in owner_change_drops(user=manager, limit=2)] == ["Bigger", "Big"]
    assert [d.contact.first_name for d in owner_change_drops(user=manager, owner=sam, limit=2)] == ["Sams"]
