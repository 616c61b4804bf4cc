"""The manager dashboard on the home page (SPEC S4): every figure a manager looks at first thing
in the morning, each read from the database by one bounded query.

- Leads not contacted in X days, per owner (total, urgent, high risk, average days), with
  totals for RED zone, high risk and pattern breaks: one grouped pass over the owner's contacts.
- Revenue at risk now (scoring.snapshots) and its 7- and 30-day trends from the daily snapshots.
- Bookings yesterday and this week per owner against the weekly target: calls with the outcome
  "booked" in a range of at most 8 days, read from the call_booked_started_idx partial index.
- Clients whose health fell 15+ points after an owner change in the last 30 days.
- Open interventions and their success rates (calls.interventions).

Each part is computed when the template first uses it, so an htmx fragment pays only for itself.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cached_property

from django.conf import settings
from django.db.models import (
    Avg,
    Count,
    DateField,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from calls.interventions import SuccessRates, open_interventions, success_rates
from calls.models import CallOutcome, CallRecord, Intervention
from calls.selectors import QueueFilters, call_queue, of_owner
from crm import timeutils
from leads.models import Contact, HealthScore, Owner, OwnerChange, PatternStatus, Zone
from leads.selectors import User, contacts_visible_to, home_figures, owner_for_user
from scoring.follow_up import follow_up_rules
from scoring.priority import QUEUE_WORKABLE, URGENT_PRIORITY, score_minimum_for
from scoring.snapshots import RevenueAtRisk, revenue_at_risk_now, snapshots_between

NOT_REACHED_DAYS = 7  # SPEC S4 default
OWNER_CHANGE_WINDOW_DAYS = 30
HEALTH_DROP_POINTS = 15
OWNER_CHANGE_LIMIT = 20


def workable_contacts(user: User, *, owner: Owner | None = None) -> QuerySet[Contact]:
    """The contacts someone should be working (the call queue's workable ones) that the user sees,
    of one owner when given."""
    return of_owner(contacts_visible_to(user).filter(QUEUE_WORKABLE), owner)


def not_contacted_since(days: int) -> Q:
    """Last called `days` business days ago or earlier, or never called and created that long ago
    (a lead that arrived this morning has not been waiting a week): the follow-up rule."""
    return follow_up_rules().not_contacted_for(days)


def _last_contact_or_creation():
    return Coalesce("last_call_at", "hs_created_at", "created_at")


# --- Leads not reached --------------------------------------------------------------------------


@dataclass(frozen=True)
class NotReachedRow:
    owner_id: int | None
    owner_name: str
    total: int
    urgent: int
    high_risk: int
    red_zone: int
    pattern_breaks: int
    avg_days: float | None  # business days since the last call (or creation), averaged


@dataclass(frozen=True)
class NotReached:
    days: int
    rows: list[NotReachedRow]  # most waiting first; owner None = unassigned

    def _sum(self, name: str) -> int:
        return sum(getattr(r, name) for r in self.rows)

    @property
    def total(self) -> int:
        return self._sum("total")

    @property
    def urgent(self) -> int:
        return self._sum("urgent")

    @property
    def high_risk(self) -> int:
        return self._sum("high_risk")

    @property
    def red_zone(self) -> int:
        return self._sum("red_zone")

    @property
    def pattern_breaks(self) -> int:
        return self._sum("pattern_breaks")

    @property
    def avg_days(self) -> float | None:
        counted = [r for r in self.rows if r.avg_days is not None]
        total = sum(r.total for r in counted)
        return sum(r.avg_days * r.total for r in counted) / total if total else None


def leads_not_reached(*, user: User, days: int = NOT_REACHED_DAYS, owner: Owner | None = None) -> NotReached:
    """Workable contacts not contacted in `days` business days, per owner (or of one owner), in
    one grouped query.
    "Urgent" is the call queue's (priority 8+, from the maintained queue score); "high risk" is
    predictive risk at or above settings.REVENUE_AT_RISK_MIN_RISK."""
    today = timeutils.business_today()
    days_waiting = ExpressionWrapper(
        Value(today, output_field=DateField())
        - TruncDate(_last_contact_or_creation(), tzinfo=timezone.get_current_timezone()),
        output_field=DurationField(),
    )
    groups = (
        workable_contacts(user, owner=owner)
        .filter(not_contacted_since(days))
        .values("owner_id", "owner__first_name", "owner__last_name", "owner__email")
        .annotate(
            total=Count("pk"),
            urgent=Count("pk", filter=Q(queue_score__gte=score_minimum_for(URGENT_PRIORITY))),
            high_risk=Count("pk", filter=Q(predictive_risk__gte=settings.REVENUE_AT_RISK_MIN_RISK)),
            red_zone=Count("pk", filter=Q(health_zone=Zone.RED)),
            pattern_breaks=Count("pk", filter=Q(pattern_status=PatternStatus.PATTERN_BREAK)),
            avg_waiting=Avg(days_waiting),
        )
        .order_by()
    )
    rows = []
    for g in groups:
        name = f"{g['owner__first_name']} {g['owner__last_name']}".strip() or g["owner__email"]
        waiting = g["avg_waiting"]
        rows.append(
            NotReachedRow(
                owner_id=g["owner_id"],
                owner_name=name if g["owner_id"] else "Unassigned",
                total=g["total"],
                urgent=g["urgent"],
                high_risk=g["high_risk"],
                red_zone=g["red_zone"],
                pattern_breaks=g["pattern_breaks"],
                avg_days=waiting.total_seconds() / 86400 if waiting is not None else None,
            )
        )
    # Most waiting first; "Unassigned" after the owners with as many (databases sort NULL apart).
    rows.sort(key=lambda r: (-r.total, r.owner_id is None, r.owner_name))
    return NotReached(days=days, rows=rows)


# --- Revenue at risk and its trend ---------------------------------------------------------------


@dataclass(frozen=True)
class ChartPoint:
    day: date
    amount: Decimal
    x: float
    y: float

    @property
    def svg_x(self) -> str:
        return f"{self.x:.1f}"

    @property
    def svg_y(self) -> str:
        return f"{self.y:.1f}"


@dataclass(frozen=True)
class TrendChart:
    """An SVG line chart's geometry, computed here so the template only draws it."""

    days: int
    points: list[ChartPoint]
    width: int = 320
    height: int = 96
    pad: int = 6

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)

    @property
    def area(self) -> str:
        if not self.points:
            return ""
        bottom = self.height - self.pad
        return (
            f"M{self.points[0].x:.1f},{bottom} L"
            + " L".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)
            + f" L{self.points[-1].x:.1f},{bottom} Z"
        )

    @property
    def low(self) -> Decimal | None:
        return min((p.amount for p in self.points), default=None)

    @property
    def high(self) -> Decimal | None:
        return max((p.amount for p in self.points), default=None)

    @property
    def first(self) -> ChartPoint | None:
        return self.points[0] if self.points else None

    @property
    def last(self) -> ChartPoint | None:
        return self.points[-1] if self.points else None

    @property
    def change(self) -> Decimal | None:
        """Last minus first point of the window; None with fewer than two days recorded."""
        return self.points[-1].amount - self.points[0].amount if len(self.points) >= 2 else None

    @property
    def change_percent(self) -> float | None:
        if self.change is None or not self.points[0].amount:
            return None
        return float(self.change / self.points[0].amount * 100)


def trend_chart(series: list[tuple[date, Decimal]], *, days: int, today: date) -> TrendChart:
    """Place each recorded day on an x axis from `days` days ago to today (so its ends are the
    figures the "change over N days" compares); a missing day is a gap, not a zero."""
    chart = TrendChart(days=days, points=[])
    first = today - timedelta(days=days)
    inside = [(d, a) for d, a in series if first <= d <= today]
    if not inside:
        return chart
    low, high = min(a for _, a in inside), max(a for _, a in inside)
    span = high - low
    inner_w, inner_h = chart.width - 2 * chart.pad, chart.height - 2 * chart.pad
    points = []
    for day, amount in inside:
        x = chart.pad + inner_w * ((day - first).days / max(days, 1))
        # A flat line sits in the middle rather than on the floor.
        y = chart.pad + inner_h * (0.5 if not span else float((high - amount) / span))
        points.append(ChartPoint(day, amount, x, y))
    return TrendChart(days=days, points=points)


@dataclass(frozen=True)
class RevenueTrend:
    now: RevenueAtRisk
    min_risk: int
    week: TrendChart
    month: TrendChart
    week_ago: Decimal | None  # the snapshot 7 days ago, if one was recorded
    month_ago: Decimal | None

    @property
    def week_change(self) -> Decimal | None:
        return None if self.week_ago is None else self.now.amount - self.week_ago

    @property
    def month_change(self) -> Decimal | None:
        return None if self.month_ago is None else self.now.amount - self.month_ago


def revenue_trend(*, today: date | None = None) -> RevenueTrend:
    """Revenue at risk now, and the last 7 and 30 days (today's point is the live figure).
    Two queries: the live sum and one range of snapshots."""
    today = today or timeutils.business_today()
    now = revenue_at_risk_now()
    recorded = {s.day: s.revenue_at_risk for s in snapshots_between(today - timedelta(days=30), today)}
    recorded[today] = now.amount
    series = sorted(recorded.items())
    return RevenueTrend(
        now=now,
        min_risk=settings.REVENUE_AT_RISK_MIN_RISK,
        week=trend_chart(series, days=7, today=today),
        month=trend_chart(series, days=30, today=today),
        week_ago=recorded.get(today - timedelta(days=7)),
        month_ago=recorded.get(today - timedelta(days=30)),
    )


# --- Bookings against targets --------------------------------------------------------------------


@dataclass(frozen=True)
class OwnerBookings:
    owner_id: int
    owner_name: str
    yesterday: int
    this_week: int
    weekly_target: int

    @property
    def remaining(self) -> int:
        return max(0, self.weekly_target - self.this_week)

    @property
    def is_behind(self) -> bool:
        return self.remaining > 0

    @property
    def status(self) -> str:
        """ "needs 2 more to hit this week's target", or that the target is reached."""
        if not self.weekly_target:
            return "no weekly target set"
        if self.remaining == 0:
            return "weekly target reached"
        more = "1 more" if self.remaining == 1 else f"{self.remaining} more"
        return f"needs {more} to hit this week's target"


@dataclass(frozen=True)
class Bookings:
    rows: list[OwnerBookings]  # furthest behind first

    @property
    def yesterday(self) -> int:
        return sum(r.yesterday for r in self.rows)

    @property
    def this_week(self) -> int:
        return sum(r.this_week for r in self.rows)

    @property
    def weekly_target(self) -> int:
        return sum(r.weekly_target for r in self.rows)

    @property
    def behind(self) -> list[OwnerBookings]:
        return [r for r in self.rows if r.is_behind]


def booking_counts(*, owners: QuerySet[Owner] | None = None) -> dict[int, tuple[int, int]]:
    """Bookings (calls with the outcome "booked") per owner: (yesterday, this week), from the
    booked calls started since the earlier of yesterday and the week's start: at most 8 days, a
    range of the call_booked_started_idx partial index, never all the call records."""
    yesterday_start, today_start = timeutils.yesterday_range()
    week_start, week_end = timeutils.this_week_range()
    calls = CallRecord.objects.filter(
        outcome=CallOutcome.BOOKED,
        started_at__gte=min(yesterday_start, week_start),
        started_at__lt=week_end,
        owner__isnull=False,
    )
    if owners is not None:
        calls = calls.filter(owner__in=owners)
    rows = (
        calls.values("owner_id")
        .annotate(
            yesterday=Count("pk", filter=Q(started_at__gte=yesterday_start, started_at__lt=today_start)),
            week=Count("pk", filter=Q(started_at__gte=week_start, started_at__lt=week_end)),
        )
        .order_by()
    )
    return {r["owner_id"]: (r["yesterday"], r["week"]) for r in rows}


def bookings_by_owner(*, owners: QuerySet[Owner] | None = None) -> Bookings:
    """Each active owner's bookings yesterday and this week against their weekly target (and
    any inactive owner who still booked), furthest behind target first. Two queries."""
    counts = booking_counts(owners=owners)
    owners = Owner.objects.all() if owners is None else owners
    people = owners.filter(Q(is_active=True) | Q(pk__in=list(counts))).only(
        "id", "first_name", "last_name", "email", "weekly_booking_target"
    )
    rows = [
        OwnerBookings(
            owner_id=o.pk,
            owner_name=str(o),
            yesterday=counts.get(o.pk, (0, 0))[0],
            this_week=counts.get(o.pk, (0, 0))[1],
            weekly_target=o.weekly_booking_target,
        )
        for o in people
    ]
    rows.sort(key=lambda r: (-r.remaining, -r.this_week, r.owner_name))
    return Bookings(rows=rows)


# --- Health drops after an owner change ----------------------------------------------------------


@dataclass(frozen=True)
class OwnerChangeDrop:
    contact: Contact
    changed_at: datetime
    from_owner: Owner | None
    to_owner: Owner | None
    health_before: int
    health_after: int
    days_since: int
    called_since_change: bool

    @property
    def drop(self) -> int:
        return self.health_before - self.health_after

    @property
    def suggested_action(self) -> str:
        """A next step a manager can hand out, by the facts of the handover."""
        new_owner = (self.to_owner.first_name or str(self.to_owner)) if self.to_owner else "the new owner"
        if not self.called_since_change:
            return f"{new_owner} has not called since the handover: introduce yourself today"
        if self.contact.health_zone == Zone.RED:
            return f"RED now: {new_owner} to call today for a wellness check; consider a manager call"
        if self.from_owner and self.days_since <= 14:
            return f"Ask {self.from_owner.first_name or self.from_owner} for a warm hand-over note"
        return f"Review the client with {new_owner}: health fell {self.drop} points since the change"


def owner_change_drops(
    *,
    user: User,
    days: int = OWNER_CHANGE_WINDOW_DAYS,
    min_drop: int = HEALTH_DROP_POINTS,
    limit: int = OWNER_CHANGE_LIMIT,
    now: datetime | None = None,
    owner: Owner | None = None,
) -> list[OwnerChangeDrop]:
    """Contacts (of one owner, when given) whose health fell by `min_drop` points or more since
    their latest owner change in the last `days` days: health before = the newest score computed
    at or before the change, after = the current score. Biggest drop first.

    Driven by the contact's own owner_changed_at (its latest change, indexed), so it reads the
    contacts handed over in the window and one history row each, never all contacts; then the
    shown rows' OwnerChange (who from, who to): two queries.
    """
    now = now or timeutils.now()
    before = (
        HealthScore.objects.filter(contact=OuterRef("pk"), computed_at__lte=OuterRef("owner_changed_at"))
        .order_by("-computed_at")
        .values("score")[:1]
    )
    contacts = list(
        of_owner(contacts_visible_to(user), owner)
        .filter(
            owner_changed_at__gte=now - timedelta(days=days),
            is_archived=False,
            merged_into__isnull=True,
            health_score__isnull=False,
        )
        .annotate(health_before=Subquery(before, output_field=IntegerField()))
        .annotate(drop=F("health_before") - F("health_score"))
        .filter(drop__gte=min_drop)
        .select_related("owner")
        .order_by("-drop", "-owner_changed_at", "pk")[:limit]
    )
    changes: dict[int, OwnerChange] = {}
    for change in (
        OwnerChange.objects.filter(contact__in=[c.pk for c in contacts])
        .select_related("from_owner", "to_owner")
        .order_by("contact_id", "-changed_at")
    ):
        changes.setdefault(change.contact_id, change)  # the newest per contact
    drops = []
    for c in contacts:
        change = changes.get(c.pk)
        drops.append(
            OwnerChangeDrop(
                contact=c,
                changed_at=c.owner_changed_at,
                from_owner=change.from_owner if change else None,
                to_owner=change.to_owner if change else c.owner,
                health_before=c.health_before,
                health_after=c.health_score,
                days_since=timeutils.days_since(c.owner_changed_at, at=now),
                called_since_change=bool(c.last_call_at and c.last_call_at >= c.owner_changed_at),
            )
        )
    return drops


# --- The page ------------------------------------------------------------------------------------


class ManagerDashboard:
    """Everything the manager's home page shows; each part is computed on first use."""

    owner_change_days = OWNER_CHANGE_WINDOW_DAYS
    health_drop_points = HEALTH_DROP_POINTS

    def __init__(self, *, user: User, days: int = NOT_REACHED_DAYS):
        self.user, self.days = user, days
        self.now = timeutils.now()

    @cached_property
    def not_reached(self) -> NotReached:
        return leads_not_reached(user=self.user, days=self.days)

    @cached_property
    def revenue(self) -> RevenueTrend:
        return revenue_trend(today=timezone.localdate(self.now))

    @cached_property
    def bookings(self) -> Bookings:
        return bookings_by_owner()

    @cached_property
    def owner_changes(self) -> list[OwnerChangeDrop]:
        return owner_change_drops(user=self.user, now=self.now)

    @cached_property
    def interventions(self) -> list[Intervention]:
        return open_interventions(user=self.user)

    @cached_property
    def rates(self) -> SuccessRates:
        return success_rates()


def manager_dashboard(*, user: User, days: int = NOT_REACHED_DAYS) -> ManagerDashboard:
    return ManagerDashboard(user=user, days=days)


# --- A setter's own day ---------------------------------------------------------------------------


class SetterDay:
    """What a setter sees on the home page: their queue at a glance, today's numbers, this week's
    bookings against their target and their open interventions. Parts computed on first use."""

    NEXT_UP = 5

    def __init__(self, *, user: User):
        self.user = user
        self.owner = owner_for_user(user)
        self.figures = home_figures(user=user)

    @cached_property
    def queue(self):
        """The setter's own queue, its first few entries and its cards (calls.selectors)."""
        return call_queue(user=self.user, filters=QueueFilters(owner=self.owner, limit=self.NEXT_UP))

    @cached_property
    def bookings(self) -> OwnerBookings | None:
        if self.owner is None:
            return None
        rows = bookings_by_owner(owners=Owner.objects.filter(pk=self.owner.pk)).rows
        return rows[0] if rows else None

    @cached_property
    def interventions(self) -> list[Intervention]:
        return open_interventions(user=self.user)


def setter_day(*, user: User) -> SetterDay:
    return SetterDay(user=user)
