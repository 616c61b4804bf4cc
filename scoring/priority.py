"""The queue priority engine (SPEC S2).

A contact's raw score is the sum of the weights of the factors that hold for it, computed by the
database as one expression over the contact's own columns (its call facts, current health and
task/deal facts). Ten times it is stored in Contact.queue_score, beside the keys of the factors
that hold (Contact.queue_factors); scoring.services keeps both current. The score is indexed per
owner, so the queue is an index walk that stops after a page, and each entry's reasons come from
the stored keys: what the setter reads is what ranked the entry.
Priority 1-10 is the raw score rounded and clamped; the 0-100 score keeps the finer order.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache

from django.db import connection
from django.db.models import Case, CharField, DateField, DateTimeField, Func, IntegerField, Q, Value, When

from crm import timeutils
from crm.statements import Slot, Statement
from leads.models import FOLLOW_UP_STAGES, Contact
from scoring.factors import CONDITIONS, SUPERSEDES, FactorContext
from scoring.models import PriorityFactor

# Who can be in a call queue at all; the rest have no queue score.
QUEUE_WORKABLE = Q(
    is_archived=False, merged_into__isnull=True, do_not_contact=False, lifecycle_stage__in=FOLLOW_UP_STAGES
)

URGENT_PRIORITY = 8  # "URGENT" reasons and the urgent card: priority >= 8
HIGH_PRIORITY = 6  # "HIGH": 6-7


@dataclass(frozen=True)
class Factor:
    """A factor as scoring uses it: its weight and its condition evaluated for one moment."""

    key: str
    weight: float
    condition: Q


def factors_enabled() -> list[PriorityFactor]:
    """The enabled factor rows in table order (one query), without conditions: all that reading
    the stored factors (factors_held, reasons_for) needs."""
    return [row for row in PriorityFactor.objects.filter(is_enabled=True) if row.key in CONDITIONS]


def factors_active(*, now: datetime | None = None) -> list[Factor]:
    """The enabled factors with their conditions evaluated for `now` (one query)."""
    return _factors(FactorContext(now=now or timeutils.now()))


def factors_timeless() -> tuple[Factor, ...]:
    """The enabled factors with every moment their conditions compare with (now, 24 hours ago,
    the start of the day 14 days back...) left as a parameter, bound to `now` when a compiled
    statement runs (one query). Two calls give equal factors until a factor row changes (or
    the zones where interventions work), so they key a cache of compiled statements: read them
    on every run, so a weight changed in the admin counts from the next one."""
    return tuple(_factors(_MomentContext()))


def _factors(ctx: FactorContext) -> list[Factor]:
    rows = [row for row in _enabled_weights(connection.vendor).rows() if row[0] in CONDITIONS]
    conditions = {key: CONDITIONS[key](ctx, threshold) for key, _, threshold in rows}
    factors = []
    for key, weight, _ in rows:
        condition = conditions[key]
        # The weaker of a pair (7 days vs 14 days, risk 60 vs 75) counts only without the stronger.
        for strong, weak in SUPERSEDES.items():
            if key == weak and strong in conditions:
                condition &= ~conditions[strong]
        factors.append(Factor(key, float(weight), condition))
    return factors


@cache
def _enabled_weights(vendor: str) -> Statement:
    # factors_enabled without building model instances, compiled once: every re-score reads it.
    return Statement.compile(
        PriorityFactor.objects.filter(is_enabled=True).values_list("key", "weight", "threshold")
    )


class _MomentContext(FactorContext):
    # `now` is None: a condition that read it instead of asking for a moment fails loudly here,
    # rather than baking one moment into a statement that is cached and run for hours.
    def __init__(self) -> None:
        super().__init__(now=None)

    def moment(self, of_now: Callable[..., date], *args) -> "_Moment":
        # Evaluated once only to learn whether the moment is a date or a datetime.
        sample = of_now(timeutils.now(), *args)
        return _Moment(of_now, args, DateTimeField() if isinstance(sample, datetime) else DateField())


class _Moment(Slot):
    """A moment derived from `now` when the statement runs (`now` in its values)."""

    def __init__(self, of_now: Callable[..., date], args: tuple, output_field) -> None:
        super().__init__(output_field=output_field)
        self.of_now, self.args = of_now, args

    def bind(self, values, connection) -> object:
        return self.output_field.get_db_prep_value(self.of_now(values["now"], *self.args), connection)


def priority_from_raw(raw: float) -> int:
    """1-10: the raw score rounded half up and clamped."""
    return max(1, min(10, int(raw + 0.5)))


def raw_minimum_for(priority: int) -> float:
    """The smallest raw score that rounds to `priority` (for counting cards in SQL)."""
    return priority - 0.5


def score_from_stored(score: int) -> int:
    """0-100 for finer sorting within a priority, from a stored queue score."""
    return max(0, min(100, score))


def queue_score_expression(factors: list[Factor]):
    """The stored queue score (Contact.queue_score) as one database expression: ten times the sum
    of the weights that hold for a contact that can be worked, NULL for one that never appears in
    a queue (archived, merged, do-not-contact, or in a stage nobody follows up)."""
    points = [
        Case(
            When(f.condition, then=Value(round(f.weight * 10))), default=Value(0), output_field=IntegerField()
        )
        for f in factors
    ]
    total = _balanced_sum(points) if points else Value(0, output_field=IntegerField())
    return Case(When(QUEUE_WORKABLE, then=total), default=Value(None), output_field=IntegerField())


def queue_factors_expression(factors: list[Factor]):
    """The stored factor keys (Contact.queue_factors) as one database expression: the key of each
    factor that holds followed by a comma, in table order; "" for a contact no queue shows."""
    terms = [
        Case(When(f.condition, then=Value(f"{f.key},")), default=Value(""), output_field=CharField())
        for f in factors
    ]
    held = _Joined(*terms) if terms else Value("")
    return Case(When(QUEUE_WORKABLE, then=held), default=Value(""), output_field=CharField())


class _Joined(Func):
    """a || b || c in one flat expression (PostgreSQL and SQLite). Django's Concat nests a pair
    per term and wraps each in COALESCE, which these CASEs, never NULL, do not need."""

    template = "(%(expressions)s)"
    arg_joiner = " || "
    output_field = CharField()


def factors_held(contact: Contact, factors: list[PriorityFactor]) -> list[PriorityFactor]:
    """The factors whose keys the contact's stored queue_factors hold, in table order."""
    keys = set(contact.queue_factors.split(","))
    return [f for f in factors if f.key in keys]


def priority_from_score(score: int) -> int:
    """1-10 from a stored queue score (ten times the raw score)."""
    return priority_from_raw(score / 10)


def score_minimum_for(priority: int) -> int:
    """The smallest stored queue score that rounds to `priority` (for counting cards in SQL)."""
    return round(raw_minimum_for(priority) * 10)


def _balanced_sum(terms: list):
    """a + b + c + ... as a balanced tree. Django walks expression trees recursively for every
    query it compiles, and a left-deep chain of 16 additions cost ~10 ms a query; depth 4 is free."""
    if len(terms) == 1:
        return terms[0]
    middle = len(terms) // 2
    return _balanced_sum(terms[:middle]) + _balanced_sum(terms[middle:])


def reasons_for(contact: Contact, held: list[PriorityFactor], *, now: datetime) -> list[str]:
    """The readable reasons of the factors that hold (factors_held()), with the contact's values
    as of `now` filled in ("15 days no contact")."""
    created = contact.hs_created_at or contact.created_at
    owner_days = timeutils.days_since(contact.owner_changed_at, at=now)
    values = {
        "zone": contact.health_zone,
        "risk": contact.predictive_risk,
        "days": timeutils.days_since(contact.last_call_at, at=now),
        "owner_days": owner_days,
        "owner_changed": _days_ago_phrase(owner_days),
        "package_days": (contact.package_end_date - timeutils.business_today(at=now)).days
        if contact.package_end_date
        else None,
        "hours": int((now - created).total_seconds() // 3600) if created else None,
        "age": _age_phrase(now - created) if created else None,
        "follow_up": _snooze_reason(contact),
        "amount": f"{contact.open_deal_amount:,.0f}" if contact.open_deal_amount is not None else None,
    }
    return [factor.reason.format_map(_Blank(values)) for factor in held if factor.reason]


def _days_ago_phrase(days: int | None) -> str | None:
    if days is None:
        return None
    return {0: "today", 1: "yesterday"}.get(days, f"{days} days ago")


def _age_phrase(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 1)} min"
    return f"{minutes // 60}h" if minutes < 48 * 60 else f"{minutes // (24 * 60)} days"


def _snooze_reason(contact: Contact) -> str | None:
    try:
        return contact.queue_state.snooze_reason or None
    except Contact.queue_state.RelatedObjectDoesNotExist:
        return None


def reason_line(priority: int, reasons: list[str]) -> str:
    """The one-line reason, e.g. "URGENT: RED zone · 14 days no contact · owner changed 2 days ago"."""
    label = "URGENT" if priority >= URGENT_PRIORITY else "HIGH" if priority >= HIGH_PRIORITY else ""
    text = " · ".join(reasons) or "due for follow-up"
    return f"{label}: {text}" if label else text[:1].upper() + text[1:]


class _Blank(dict):
    """format_map that shows "?" instead of failing on a value a row does not have."""

    def __getitem__(self, key: str):
        value = super().get(key)
        return "?" if value is None else value
