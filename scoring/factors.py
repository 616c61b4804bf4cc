"""What each priority factor means: its condition over a contact, as a database expression.

The same `Q` decides the sort order in SQL and, annotated as a flag, which reasons a setter sees,
so the number and its explanation can never disagree. Weights, thresholds and reason words live
in the PriorityFactor table.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Expression, Q

from crm import timeutils
from leads.models import OWNER_RECENTLY_CHANGED_DAYS, PatternStatus, Zone


@dataclass(frozen=True)
class FactorContext:
    """The moment conditions are evaluated for. A condition reads time only through `moment`,
    never `now` itself: scoring.priority compiles the conditions once with every moment left as a
    parameter (a context whose `now` is None), bound to a new now at each run."""

    now: datetime

    def moment(self, of_now: Callable[..., date], *args) -> date | Expression:
        """`of_now(now, *args)`: a module-level function and hashable arguments, so two
        conditions that compare with the same moment are equal (scoring caches by them)."""
        return of_now(self.now, *args)


def _before(now: datetime, ago: timedelta) -> datetime:
    return now - ago


def _days_ago_boundary(now: datetime, days: int) -> datetime:
    return timeutils.days_ago_boundary(days, at=now)


def _business_day(now: datetime, ahead: timedelta) -> date:
    return timeutils.business_today(at=now) + ahead


def _num(threshold: Decimal | None, default: float) -> float:
    return float(threshold) if threshold is not None else default


def _zone(zone: str) -> Callable[[FactorContext, Decimal | None], Q]:
    return lambda ctx, threshold: Q(health_zone=zone)


def _no_contact_at_least(ctx: FactorContext, threshold: Decimal | None) -> Q:
    return Q(last_call_at__lt=ctx.moment(_days_ago_boundary, int(_num(threshold, 14))))


def _risk_at_least(ctx: FactorContext, threshold: Decimal | None) -> Q:
    return Q(predictive_risk__gte=_num(threshold, 75))


def _owner_changed_within(ctx: FactorContext, threshold: Decimal | None) -> Q:
    return Q(
        owner_changed_at__gte=ctx.moment(
            _before, timedelta(days=_num(threshold, OWNER_RECENTLY_CHANGED_DAYS))
        )
    )


def _package_ending_within(ctx: FactorContext, threshold: Decimal | None) -> Q:
    return Q(
        package_end_date__gte=ctx.moment(_business_day, timedelta(0)),
        package_end_date__lte=ctx.moment(_business_day, timedelta(days=_num(threshold, 14))),
    )


def _overdue_task(ctx: FactorContext, threshold: Decimal | None) -> Q:
    return Q(next_task_due_at__lt=ctx.moment(_before, timedelta(0)))


def _new_lead_never_called(ctx: FactorContext, threshold: Decimal | None) -> Q:
    since = ctx.moment(_before, timedelta(hours=_num(threshold, 24)))
    return Q(call_count=0) & (
        Q(hs_created_at__gte=since) | Q(hs_created_at__isnull=True, created_at__gte=since)
    )


def _follow_up_due(ctx: FactorContext, threshold: Decimal | None) -> Q:
    # A snooze that has run out: a retry after a missed call, or the callback time the lead asked for.
    return Q(queue_state__snoozed_until__lte=ctx.moment(_before, timedelta(0)))


def _never_called(ctx: FactorContext, threshold: Decimal | None) -> Q:
    return Q(call_count=0)


def _open_deal_over(ctx: FactorContext, threshold: Decimal | None) -> Q:
    return Q(open_deal_amount__gte=_num(threshold, 10_000))


def _intervention_works(ctx: FactorContext, threshold: Decimal | None) -> Q:
    # A client in a zone where some kind of intervention has succeeded at least `threshold` % of
    # the time (SPEC S7: "WELLNESS_CHECK works 65% of the time for YELLOW clients") is worth
    # reaching: the playbook for them is known to work. The zones come from the recorded outcomes
    # (cached a few minutes, refreshed when an outcome is recorded), so scoring reads a constant.
    # Imported here: calls.interventions uses the queue engine, which imports this module.
    from calls.interventions import zones_where_interventions_work

    return Q(health_zone__in=zones_where_interventions_work(min_rate=_num(threshold, 60)))


def _always(ctx: FactorContext, threshold: Decimal | None) -> Q:
    return Q(pk__isnull=False)


@dataclass(frozen=True)
class FactorDefault:
    key: str
    label: str
    weight: str
    threshold: str | None
    reason: str


# key -> condition. Mutually exclusive pairs (7 vs 14 days, risk 60 vs 75) are resolved by the
# engine, which counts only the stronger of a pair.
CONDITIONS: dict[str, Callable[[FactorContext, Decimal | None], Q]] = {
    "base": _always,
    "new_lead_never_called": _new_lead_never_called,
    "overdue_task": _overdue_task,
    "follow_up_due": _follow_up_due,
    "zone_red": _zone(Zone.RED),
    "zone_orange": _zone(Zone.ORANGE),
    "zone_yellow": _zone(Zone.YELLOW),
    "no_contact_14_days": _no_contact_at_least,
    "no_contact_7_days": _no_contact_at_least,
    "pattern_break": lambda ctx, threshold: Q(pattern_status=PatternStatus.PATTERN_BREAK),
    "risk_75": _risk_at_least,
    "risk_60": _risk_at_least,
    "owner_changed": _owner_changed_within,
    "package_ending": _package_ending_within,
    "never_called": _never_called,
    "open_deal_value": _open_deal_over,
    "intervention_works": _intervention_works,
}

# When the stronger factor holds, the weaker one of its pair does not count.
SUPERSEDES = {
    "no_contact_14_days": "no_contact_7_days",
    "risk_75": "risk_60",
    "new_lead_never_called": "never_called",
}

# The rows created by the migration (SPEC S2 weights). Ops change them in the admin.
DEFAULTS = [
    FactorDefault("base", "Base priority of any contact in the queue", "3", None, ""),
    FactorDefault(
        "new_lead_never_called",
        "New lead never called (hours since created)",
        "6",
        "24",
        "NEW lead {age} old, never called",
    ),
    FactorDefault("overdue_task", "Overdue callback or task", "2", None, "overdue callback"),
    FactorDefault("follow_up_due", "Callback or retry due", "2", None, "follow-up due: {follow_up}"),
    FactorDefault("zone_red", "RED health zone", "3", None, "RED zone"),
    FactorDefault("zone_orange", "ORANGE health zone", "2.5", None, "ORANGE zone"),
    FactorDefault("zone_yellow", "YELLOW health zone", "2", None, "YELLOW zone"),
    FactorDefault("no_contact_14_days", "No contact for (days)", "2", "14", "{days} days no contact"),
    FactorDefault("no_contact_7_days", "No contact for (days)", "1.5", "7", "{days} days no contact"),
    FactorDefault("pattern_break", "Pattern break", "2", None, "pattern break"),
    FactorDefault("risk_75", "Predictive risk at least", "2", "75", "risk {risk}"),
    FactorDefault("risk_60", "Predictive risk at least", "1", "60", "risk {risk}"),
    FactorDefault(
        "owner_changed",
        "Owner changed within (days)",
        "1.5",
        str(OWNER_RECENTLY_CHANGED_DAYS),
        "owner changed {owner_changed}",
    ),
    FactorDefault(
        "package_ending", "Package ends within (days)", "1", "14", "package ends in {package_days} days"
    ),
    FactorDefault("never_called", "Never called", "1.5", None, "never called"),
    FactorDefault(
        "open_deal_value", "Open deal worth at least (AED)", "1", "10000", "open deal AED {amount}"
    ),
    FactorDefault(
        "intervention_works",
        "An intervention type succeeds for the client's zone at least (% of outcomes)",
        "1",
        "60",
        "interventions work for {zone} clients",
    ),
]
assert {d.key for d in DEFAULTS} == set(CONDITIONS), "every condition needs a default row and vice versa"


def factors_ensure(apps, schema_editor=None) -> None:
    """Create the default factor rows that are missing; never overwrite what ops changed."""
    PriorityFactor = apps.get_model("scoring", "PriorityFactor")
    for position, default in enumerate(DEFAULTS):
        PriorityFactor.objects.get_or_create(
            key=default.key,
            defaults={
                "label": default.label,
                "weight": Decimal(default.weight),
                "threshold": Decimal(default.threshold) if default.threshold else None,
                "reason": default.reason,
                "position": position,
            },
        )
