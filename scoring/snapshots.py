"""Revenue at risk (SPEC S4): the sum of the package values of clients whose predictive risk is
at least settings.REVENUE_AT_RISK_MIN_RISK, now and as it stood at the end of past business
days, and the daily snapshots the dashboard's trends read.

A client's package value lives in its health-score history (HealthScore.package_value); its
current risk is copied onto the contact. "Now" reads the contact's risk and the value of its
newest health score; a past day reads, for each client, the newest health score computed before
that day ended. Archived and merged contacts never count.
"""

import bisect
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Count, DecimalField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from crm import timeutils
from leads.models import Contact, HealthScore
from scoring.models import RevenueAtRiskSnapshot, SnapshotSource

# How far back the daily job rebuilds days that have no snapshot (the longest trend is 30 days;
# a quarter leaves room for a longer chart later without another backfill).
BACKFILL_DAYS = 90
_AED = DecimalField(max_digits=14, decimal_places=2)


@dataclass(frozen=True)
class RevenueAtRisk:
    amount: Decimal
    clients: int


def counted_contacts() -> QuerySet[Contact]:
    """Contacts whose health can count: not archived, not merged into another."""
    return Contact.objects.filter(is_archived=False, merged_into__isnull=True)


def latest_package_value() -> Subquery:
    """The package value of the contact's newest health score (the health_contact_time_idx walk)."""
    return Subquery(
        HealthScore.objects.filter(contact=OuterRef("pk"))
        .order_by("-computed_at")
        .values("package_value")[:1],
        output_field=_AED,
    )


def revenue_at_risk_now(
    *, contacts: QuerySet[Contact] | None = None, min_risk: int | None = None
) -> RevenueAtRisk:
    """Revenue at risk over `contacts` (default: every counted contact) right now, in one query."""
    min_risk = settings.REVENUE_AT_RISK_MIN_RISK if min_risk is None else min_risk
    contacts = counted_contacts() if contacts is None else contacts
    totals = (
        contacts.filter(predictive_risk__gte=min_risk)
        .annotate(package_value=Coalesce(latest_package_value(), Value(Decimal(0)), output_field=_AED))
        .aggregate(amount=Sum("package_value"), clients=Count("pk"))
    )
    return RevenueAtRisk(amount=totals["amount"] or Decimal(0), clients=totals["clients"])


def revenue_at_risk_on_days(
    first: date, last: date, *, min_risk: int | None = None
) -> dict[date, RevenueAtRisk]:
    """Revenue at risk at the end of each business day from `first` to `last`, rebuilt from the
    health-score history in one ordered pass over it.

    Each health score holds from its computed_at until the contact's next one; it counts for the
    days whose end falls in that span when its risk is high enough. Additions and removals are
    kept per day (a difference array), so the cost is the number of history rows, whatever the
    number of days.
    """
    min_risk = settings.REVENUE_AT_RISK_MIN_RISK if min_risk is None else min_risk
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    if not days:
        return {}
    ends = [timeutils.start_of_day(day + timedelta(days=1)) for day in days]
    amount_delta = [Decimal(0)] * (len(days) + 1)
    count_delta = [0] * (len(days) + 1)

    def add(moment, next_moment, risk, value) -> None:
        if risk < min_risk:
            return
        # The score is the newest one at the day ends e with moment < e <= next_moment.
        lo = bisect.bisect_right(ends, moment)
        hi = len(ends) if next_moment is None else bisect.bisect_right(ends, next_moment)
        if lo < hi:
            amount_delta[lo] += value
            amount_delta[hi] -= value
            count_delta[lo] += 1
            count_delta[hi] -= 1

    rows = (
        HealthScore.objects.filter(
            computed_at__lt=ends[-1], contact__is_archived=False, contact__merged_into__isnull=True
        )
        .order_by("contact_id", "computed_at")
        .values_list("contact_id", "computed_at", "predictive_risk", "package_value")
    )
    previous = None
    for row in rows.iterator(chunk_size=5000):
        if previous is not None:
            same_contact = previous[0] == row[0]
            add(previous[1], row[1] if same_contact else None, previous[2], previous[3])
        previous = row
    if previous is not None:
        add(previous[1], None, previous[2], previous[3])

    result, amount, count = {}, Decimal(0), 0
    for index, day in enumerate(days):
        amount += amount_delta[index]
        count += count_delta[index]
        result[day] = RevenueAtRisk(amount=amount, clients=count)
    return result


@dataclass(frozen=True)
class SnapshotRun:
    day: date
    today: RevenueAtRisk
    backfilled: int


@transaction.atomic
def revenue_snapshots_take(*, backfill_days: int = BACKFILL_DAYS) -> SnapshotRun:
    """Record today's revenue at risk and rebuild the days of the last `backfill_days` that have
    no snapshot from the health-score history.

    Safe to run any number of times a day: there is one row per day (a unique day), a second run
    today overwrites today's row with the newer figures, and days already recorded are never
    rewritten (a live figure of a past day beats a rebuilt one).
    """
    today = timeutils.business_today()
    min_risk = settings.REVENUE_AT_RISK_MIN_RISK
    now_figure = revenue_at_risk_now(min_risk=min_risk)
    taken_at = timeutils.now()
    RevenueAtRiskSnapshot.objects.update_or_create(
        day=today,
        defaults={
            "revenue_at_risk": now_figure.amount,
            "clients_at_risk": now_figure.clients,
            "min_risk": min_risk,
            "source": SnapshotSource.LIVE,
            "taken_at": taken_at,
        },
    )
    first = today - timedelta(days=backfill_days)
    have = set(
        RevenueAtRiskSnapshot.objects.filter(day__gte=first, day__lt=today).values_list("day", flat=True)
    )
    missing = [
        first + timedelta(days=n) for n in range(backfill_days) if first + timedelta(days=n) not in have
    ]
    backfilled = 0
    if missing:
        history = revenue_at_risk_on_days(missing[0], missing[-1], min_risk=min_risk)
        created = RevenueAtRiskSnapshot.objects.bulk_create(
            [
                RevenueAtRiskSnapshot(
                    day=day,
                    revenue_at_risk=history[day].amount,
                    clients_at_risk=history[day].clients,
                    min_risk=min_risk,
                    source=SnapshotSource.BACKFILL,
                    taken_at=taken_at,
                )
                for day in missing
            ],
            # A concurrent run may have written some of these days first: theirs stands.
            ignore_conflicts=True,
        )
        backfilled = len(created)  # attempted: a day another run wrote first is skipped
    return SnapshotRun(day=today, today=now_figure, backfilled=backfilled)


def snapshots_between(first: date, last: date) -> list[RevenueAtRiskSnapshot]:
    """The recorded days from `first` to `last`, oldest first (one index range on day)."""
    return list(RevenueAtRiskSnapshot.objects.filter(day__gte=first, day__lte=last).order_by("day"))
