"""Interventions (SPEC S4, S7): "Generate smart actions" for the clients most at risk, recording
how each one went, and the success rates those outcomes add up to.

The type of an action follows rules a manager can read (first that applies):
1. owner changed in the last NEW_OWNER_DAYS days -> NEW_OWNER_INTRODUCTION
2. a pattern break (calls fell below half their usual rhythm) -> PATTERN_BREAK_FOLLOW_UP
3. RED zone, or no contact for GONE_QUIET_DAYS days -> RE_ENGAGEMENT
4. package ending within PACKAGE_ENDING_DAYS days, or at most 2 sessions left -> RENEWAL
5. otherwise -> WELLNESS_CHECK

A success rate is successes over recorded outcomes (partial and failed both count as "not a
success"; the partial share is shown beside it), per type and per type x zone at creation.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Exists, F, FloatField, OuterRef, Q, QuerySet, Value
from django.utils import timezone

from calls.drafts import DraftFacts, draft_facts_for, drafts_for
from calls.models import (
    OPEN_INTERVENTION_STATUSES,
    Intervention,
    InterventionOutcome,
    InterventionStatus,
    InterventionType,
)
from crm import roles, timeutils
from leads.models import FOLLOW_UP_STAGES, Contact, PatternStatus, Zone
from leads.selectors import User, contacts_visible_to, owner_for_user
from scoring.channels import recommend_channel
from scoring.priority import priority_from_score

NEW_OWNER_DAYS = 14
GONE_QUIET_DAYS = 14
PACKAGE_ENDING_DAYS = 14
PACKAGE_ENDING_SESSIONS = 2
SMART_ACTIONS_DEFAULT = 10
SMART_ACTIONS_MAX = 50
AT_RISK_ZONES = (Zone.RED, Zone.ORANGE)

# What each kind of action is for, in the words the list and the draft use. {zone}, {score},
# {days} and {owner_days} are the client's facts when the action was generated.
WORDING = {
    InterventionType.NEW_OWNER_INTRODUCTION: "New owner since {owner_days}: introduce yourself and "
    "hear how things are going",
    InterventionType.PATTERN_BREAK_FOLLOW_UP: "Pattern break: fewer sessions and calls than usual, "
    "find out what changed",
    InterventionType.RE_ENGAGEMENT: "{zone} zone, {days}: re-engage before they drop out",
    InterventionType.RENEWAL: "Package ending: talk about renewal while they are still engaged",
    InterventionType.WELLNESS_CHECK: "Health {score} ({zone}): a wellness check to catch problems early",
}


class InterventionClosed(Exception):
    """The intervention already has an outcome (or was cancelled): nothing was changed."""


# --- Success rates -------------------------------------------------------------------------


@dataclass(frozen=True)
class SuccessRate:
    intervention_type: str
    zone: str  # "" for a type's rate over every zone
    outcomes: int
    successes: int
    partials: int

    @property
    def failures(self) -> int:
        return self.outcomes - self.successes - self.partials

    @property
    def rate(self) -> float | None:
        """Successes per recorded outcome, 0-1; None before any outcome."""
        return self.successes / self.outcomes if self.outcomes else None

    @property
    def percent(self) -> int | None:
        return None if self.rate is None else round(self.rate * 100)

    @property
    def is_trusted(self) -> bool:
        return self.outcomes >= settings.INTERVENTION_RATE_MIN_OUTCOMES

    @property
    def type_label(self) -> str:
        return InterventionType(self.intervention_type).label

    @property
    def sentence(self) -> str:
        """ "Wellness check works 65% of the time for YELLOW clients (13 of 20)": the type's label,
        never its code."""
        where = f" for {self.zone} clients" if self.zone else ""
        counts = f"({self.successes} of {self.outcomes})"
        return f"{self.type_label} works {self.percent}% of the time{where} {counts}"


def _outcome_groups() -> QuerySet:
    """Recorded outcomes per type and zone at creation (the intervention_rate_idx columns)."""
    return (
        Intervention.objects.filter(status=InterventionStatus.DONE)
        .values("intervention_type", "zone_at_creation")
        .annotate(
            outcomes=Count("pk"),
            successes=Count("pk", filter=Q(outcome=InterventionOutcome.SUCCESS)),
            partials=Count("pk", filter=Q(outcome=InterventionOutcome.PARTIAL)),
        )
        .order_by()
    )


# The queue reads the working zones on every page and every re-score; aggregating all recorded
# outcomes costs ~8 ms at 23,000 interventions, so the answer is kept for a few minutes and
# dropped whenever an outcome is recorded.
WORKING_ZONES_CACHE_SECONDS = 300
_OUTCOMES_GENERATION_KEY = "interventions:outcomes-generation"


def zones_where_interventions_work(*, min_rate: float, min_outcomes: int | None = None) -> list[str]:
    """The zones where some intervention type succeeded in at least `min_rate` % of at least
    `min_outcomes` recorded outcomes."""
    min_outcomes = settings.INTERVENTION_RATE_MIN_OUTCOMES if min_outcomes is None else min_outcomes
    generation = cache.get_or_set(_OUTCOMES_GENERATION_KEY, 0, timeout=None)
    key = f"interventions:working-zones:{generation}:{min_rate}:{min_outcomes}"
    zones = cache.get(key)
    if zones is None:
        # successes / outcomes >= min_rate / 100, kept in multiplication so no integer division.
        rows = (
            _outcome_groups()
            .exclude(zone_at_creation="")
            .annotate(
                margin=F("successes") * Value(100.0, output_field=FloatField())
                - F("outcomes") * Value(float(min_rate), output_field=FloatField())
            )
            .filter(outcomes__gte=min_outcomes, margin__gte=0)
            .values_list("zone_at_creation", flat=True)
        )
        zones = sorted(set(rows))
        cache.set(key, zones, WORKING_ZONES_CACHE_SECONDS)
    return zones


def _outcomes_changed() -> None:
    try:
        cache.incr(_OUTCOMES_GENERATION_KEY)
    except ValueError:  # not cached (evicted or first use): any new value starts a generation
        cache.set(_OUTCOMES_GENERATION_KEY, 1, timeout=None)


@dataclass(frozen=True)
class SuccessRates:
    overall: SuccessRate
    by_type: list[SuccessRate]
    by_type_zone: list[SuccessRate]

    @property
    def min_outcomes(self) -> int:
        return settings.INTERVENTION_RATE_MIN_OUTCOMES

    def best_for_zone(self) -> dict[str, SuccessRate]:
        """Per zone, the trusted type that works best there."""
        best: dict[str, SuccessRate] = {}
        for rate in self.by_type_zone:
            if rate.is_trusted and rate.zone and (rate.zone not in best or rate.rate > best[rate.zone].rate):
                best[rate.zone] = rate
        return best


def success_rates() -> SuccessRates:
    """Success rates overall, by type and by type x zone, from one grouped query."""
    cells = [
        SuccessRate(
            g["intervention_type"], g["zone_at_creation"], g["outcomes"], g["successes"], g["partials"]
        )
        for g in _outcome_groups()
    ]
    zone_order = {zone: n for n, zone in enumerate(Zone.values)}
    type_order = {kind: n for n, kind in enumerate(InterventionType.values)}
    by_type = []
    for kind in InterventionType.values:
        mine = [c for c in cells if c.intervention_type == kind]
        if mine:
            by_type.append(
                SuccessRate(
                    kind,
                    "",
                    sum(c.outcomes for c in mine),
                    sum(c.successes for c in mine),
                    sum(c.partials for c in mine),
                )
            )
    overall = SuccessRate(
        "",
        "",
        sum(c.outcomes for c in cells),
        sum(c.successes for c in cells),
        sum(c.partials for c in cells),
    )
    cells.sort(key=lambda c: (type_order.get(c.intervention_type, 99), zone_order.get(c.zone, 99)))
    return SuccessRates(overall=overall, by_type=by_type, by_type_zone=cells)


# --- Generating smart actions ----------------------------------------------------------------


def intervention_type_for(contact: Contact, *, now: datetime) -> str:
    """The kind of action a client needs, by the rules in the module docstring."""
    if contact.owner_changed_at and contact.owner_changed_at >= now - timedelta(days=NEW_OWNER_DAYS):
        return InterventionType.NEW_OWNER_INTRODUCTION
    if contact.pattern_status == PatternStatus.PATTERN_BREAK:
        return InterventionType.PATTERN_BREAK_FOLLOW_UP
    quiet = timeutils.days_since(contact.last_call_at, at=now)
    if contact.health_zone == Zone.RED or quiet is None or quiet >= GONE_QUIET_DAYS:
        return InterventionType.RE_ENGAGEMENT
    today = timezone.localdate(now)
    ending = contact.package_end_date and today <= contact.package_end_date <= today + timedelta(
        days=PACKAGE_ENDING_DAYS
    )
    if ending or (contact.sessions_left is not None and contact.sessions_left <= PACKAGE_ENDING_SESSIONS):
        return InterventionType.RENEWAL
    return InterventionType.WELLNESS_CHECK


def wording_for(kind: str, contact: Contact, *, now: datetime) -> str:
    days = timeutils.days_since(contact.last_call_at, at=now)
    owner_days = timeutils.days_since(contact.owner_changed_at, at=now)
    values = {
        "zone": contact.health_zone or "no",
        "score": "?" if contact.health_score is None else contact.health_score,
        "days": "never called" if days is None else f"{days} days since contact",
        "owner_days": {0: "today", 1: "yesterday"}.get(owner_days, f"{owner_days} days"),
    }
    return WORDING[kind].format(**values)


def smart_action_candidates(*, user: User, limit: int, min_risk: int | None = None) -> list[Contact]:
    """The clients most at risk (risk >= the dashboard threshold, or in the RED/ORANGE zone)
    that have no open intervention, highest risk and lowest health first."""
    min_risk = settings.REVENUE_AT_RISK_MIN_RISK if min_risk is None else min_risk
    open_one = Intervention.objects.filter(contact=OuterRef("pk"), status__in=OPEN_INTERVENTION_STATUSES)
    return list(
        contacts_visible_to(user)
        .filter(
            Q(predictive_risk__gte=min_risk) | Q(health_zone__in=AT_RISK_ZONES),
            is_archived=False,
            merged_into__isnull=True,
            do_not_contact=False,
            lifecycle_stage__in=FOLLOW_UP_STAGES,
        )
        .exclude(Exists(open_one))
        .select_related("owner")
        .order_by(F("predictive_risk").desc(nulls_last=True), F("health_score").asc(nulls_last=True), "pk")[
            :limit
        ]
    )


def _draft_facts(contact: Contact, kind: str, reason: str) -> DraftFacts | None:
    # The queue's priority picks the channel (urgent: phone); unscored contacts count as low.
    priority = priority_from_score(contact.queue_score) if contact.queue_score is not None else 1
    channel = recommend_channel(contact, priority=priority).channel
    if not channel:
        return None
    return draft_facts_for(
        contact,
        reason=reason,
        channel=channel,
        factors=(InterventionType(kind).label,),
        sessions_left=contact.sessions_left,
        package_end_date=contact.package_end_date,
    )


@dataclass(frozen=True)
class SmartActionsResult:
    created: list[Intervention]
    considered: int


def smart_actions_generate(
    *, user: User, limit: int = SMART_ACTIONS_DEFAULT, use_ai: bool = True, now: datetime | None = None
) -> SmartActionsResult:
    """Create one intervention for each of the `limit` clients most at risk that have none open,
    with its type from the rules and a draft message (Claude's within the draft budget, else the
    template). Never a duplicate of an open one: candidates with any open intervention are left
    out, and the one-open-per-type constraint stops a concurrent run at the database.

    Drafts are written before the transaction opens, so a slow model never holds it open.
    """
    now = now or timeutils.now()
    candidates = smart_action_candidates(user=user, limit=max(1, min(limit, SMART_ACTIONS_MAX)))
    plans = []
    for contact in candidates:
        kind = intervention_type_for(contact, now=now)
        plans.append((contact, kind, wording_for(kind, contact, now=now)))
    facts = {c.pk: f for c, kind, reason in plans if (f := _draft_facts(c, kind, reason)) is not None}
    drafts = drafts_for(facts, use_ai=use_ai)
    created_by = user if getattr(user, "is_authenticated", False) else None
    rows = [
        Intervention(
            contact=contact,
            intervention_type=kind,
            owner_id=contact.owner_id,
            zone_at_creation=contact.health_zone,
            created_by=created_by,
            status=InterventionStatus.OPEN,
            draft_message=drafts[contact.pk].text if contact.pk in drafts else "",
            notes=reason,
            created_at=now,
        )
        for contact, kind, reason in plans
    ]
    with transaction.atomic():
        # Conflicts (a run a moment ago opened the same action) are skipped, not raised.
        Intervention.objects.bulk_create(rows, ignore_conflicts=True)
        created = list(
            Intervention.objects.filter(
                contact_id__in=[c.pk for c, _, _ in plans], created_at=now, status=InterventionStatus.OPEN
            ).select_related("contact", "owner")
        )
    return SmartActionsResult(created=created, considered=len(candidates))


# --- Outcomes and the list ---------------------------------------------------------------------


def intervention_outcome_record(
    *, intervention: Intervention, outcome: str, note: str = "", now: datetime | None = None
) -> Intervention:
    """Close an open intervention with its outcome (success / partial / failed) and a note.

    A conditional update, so two people pressing a button at once record one outcome, and the
    second is told (InterventionClosed) instead of overwriting the first.
    """
    if outcome not in InterventionOutcome.values:
        raise ValueError(f"unknown outcome {outcome!r}")
    now = now or timeutils.now()
    changes = {"status": InterventionStatus.DONE, "outcome": outcome, "completed_at": now}
    if note.strip():
        changes["notes"] = note.strip()
    updated = Intervention.objects.filter(pk=intervention.pk, status__in=OPEN_INTERVENTION_STATUSES).update(
        **changes
    )
    if updated != 1:
        raise InterventionClosed(f"intervention {intervention.pk} is already closed")
    transaction.on_commit(_outcomes_changed)
    return Intervention.objects.select_related("contact", "owner").get(pk=intervention.pk)


def interventions_visible_to(user: User) -> QuerySet[Intervention]:
    """Interventions on the contacts the user may see (the same scoping as contacts_visible_to)."""
    if roles.is_manager(user):
        return Intervention.objects.all()
    owner = owner_for_user(user)
    if owner is None:
        return Intervention.objects.none()
    return Intervention.objects.filter(contact__owner=owner)


def open_interventions(*, user: User, limit: int = 20) -> list[Intervention]:
    """Open interventions the user may see, newest first, with their contact and owner. The
    page is picked first (a walk down intervention_open_recent_idx), then joined: joining first
    would make the database match every open intervention to its contact before sorting."""
    newest = list(
        interventions_visible_to(user)
        .filter(status__in=OPEN_INTERVENTION_STATUSES)
        .order_by("-created_at", "-pk")
        .values_list("pk", flat=True)[:limit]
    )
    rows = Intervention.objects.filter(pk__in=newest).select_related("contact", "owner")
    return sorted(rows, key=lambda i: (i.created_at, i.pk), reverse=True)
