"""Follow-up flags and priority (SPEC S3) as database expressions.

One place decides what "going cold", "missing coach", "speed to lead" ... and priority 1 HIGH /
2 MEDIUM / 3 LOW mean. Each is a `Q` (or a `Case`) over the contact's own maintained columns
(call facts, next task due, largest open deal, coach, stage, creation time), so the follow-up
table filters, sorts, counts and pages in SQL, and the call queue can annotate or filter with
the very same conditions. Conditions that mean the same thing as a queue factor (overdue task,
never called, no call for N days) come from `scoring.factors`, so the two pages never disagree
about them.

"Contact" here is a call: days since contact count from the last call, or from the contact's
creation when it was never called.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cached_property

from django.conf import settings
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    ExpressionWrapper,
    IntegerChoices,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    TextChoices,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import LessThan

from crm import timeutils
from leads.models import FOLLOW_UP_STAGES, Deal, LifecycleStage
from scoring.factors import CONDITIONS, FactorContext

# SPEC S3 thresholds.
GOING_COLD_AFTER_DAYS = 7  # going cold: more than 7 days without contact
MEDIUM_AFTER_DAYS = 3  # MEDIUM: no call in 3+ days
BIG_DEAL_AED = Decimal(10_000)  # HIGH: going cold with a deal over AED 10,000
# Days-since-contact badge: green below 3 days, yellow 3-7, red above 7.
BADGE_YELLOW_FROM_DAYS = MEDIUM_AFTER_DAYS

# The rows of the follow-up table: leads through customers, neither merged into another contact
# nor archived.
FOLLOW_UP_LEADS = Q(is_archived=False, merged_into__isnull=True, lifecycle_stage__in=FOLLOW_UP_STAGES)

COLD_STAGES = (LifecycleStage.LEAD, LifecycleStage.MQL)  # going cold applies while lead or MQL
COACHED_STAGES = (LifecycleStage.CUSTOMER, LifecycleStage.OPPORTUNITY)  # need an assigned coach
# "Past lead/subscriber": from MQL on, a contact is expected to have a deal.
DEAL_STAGES = (
    LifecycleStage.MQL,
    LifecycleStage.SQL,
    LifecycleStage.OPPORTUNITY,
    LifecycleStage.CUSTOMER,
)


class Flag(TextChoices):
    MISSING_COACH = "missing_coach", "Missing coach"
    MISSING_DEAL = "missing_deal", "Missing deal"
    NO_CALLS = "no_calls", "No calls made"
    GOING_COLD = "going_cold", "Going cold"
    OVERDUE_TASK = "overdue_task", "Overdue task"
    SPEED_TO_LEAD = "speed_to_lead", "Speed to lead"


class Priority(IntegerChoices):
    HIGH = 1, "HIGH"
    MEDIUM = 2, "MEDIUM"
    LOW = 3, "LOW"


def flag_attribute(flag: str) -> str:
    """The annotation name a flag's boolean gets on a contact."""
    return f"flag_{flag}"


PRIORITY_ATTRIBUTE = "follow_up_priority"


@dataclass(frozen=True)
class FollowUpRules:
    """The S3 conditions evaluated for one moment (`now`)."""

    now: datetime = field(default_factory=timeutils.now)

    @cached_property
    def _factor_context(self) -> FactorContext:
        return FactorContext(now=self.now)

    def _called_before(self, days: int) -> Q:
        """Last call at least `days` business days before `now`: the queue's "no contact for N
        days" factor condition."""
        return CONDITIONS["no_contact_14_days"](self._factor_context, Decimal(days))

    def not_contacted_for(self, days: int) -> Q:
        """At least `days` business days since the last call; a contact never called counts from
        its creation (HubSpot's, else ours). One comparison rather than an OR over last call and
        creation: PostgreSQL then reads one owner's rows from the covering follow-up index
        instead of combining two bitmap scans and visiting every matching row."""
        boundary = timeutils.days_ago_boundary(days, at=self.now)
        return Q(LessThan(Coalesce("last_call_at", "hs_created_at", "created_at"), boundary))

    @cached_property
    def never_called(self) -> Q:
        return CONDITIONS["never_called"](self._factor_context, None)

    @cached_property
    def overdue_task(self) -> Q:
        return CONDITIONS["overdue_task"](self._factor_context, None)

    @cached_property
    def going_cold(self) -> Q:
        # "More than 7 days" = 8 or more whole business days, the red badge.
        return Q(lifecycle_stage__in=COLD_STAGES) & self.not_contacted_for(GOING_COLD_AFTER_DAYS + 1)

    @cached_property
    def missing_coach(self) -> Q:
        return Q(lifecycle_stage__in=COACHED_STAGES, assigned_coach="")

    @cached_property
    def missing_deal(self) -> Q:
        any_deal = Deal.objects.filter(contact=OuterRef("pk"), is_archived=False)
        return Q(lifecycle_stage__in=DEAL_STAGES) & ~Exists(any_deal)

    @cached_property
    def speed_to_lead_cutoff(self) -> datetime:
        """Leads created at or before this moment have had the response time in business hours."""
        return timeutils.business_time_before(self.now, settings.SPEED_TO_LEAD_MINUTES)

    @cached_property
    def speed_to_lead(self) -> Q:
        # A new lead still waiting for its first call after the response time. Once it has gone
        # cold it is no longer "new": the going-cold flag takes over.
        cutoff = self.speed_to_lead_cutoff
        created_by_cutoff = Q(hs_created_at__lte=cutoff) | Q(
            hs_created_at__isnull=True, created_at__lte=cutoff
        )
        return Q(lifecycle_stage__in=COLD_STAGES) & self.never_called & created_by_cutoff & ~self.going_cold

    def flag(self, flag: str) -> Q:
        return {
            Flag.MISSING_COACH: self.missing_coach,
            Flag.MISSING_DEAL: self.missing_deal,
            Flag.NO_CALLS: self.never_called,
            Flag.GOING_COLD: self.going_cold,
            Flag.OVERDUE_TASK: self.overdue_task,
            Flag.SPEED_TO_LEAD: self.speed_to_lead,
        }[Flag(flag)]

    @cached_property
    def high(self) -> Q:
        """1 HIGH: going cold with a deal over AED 10,000, an overdue callback/task, or never called."""
        big_deal = Q(open_deal_amount__gt=BIG_DEAL_AED)
        return (self.going_cold & big_deal) | self.overdue_task | self.never_called

    @cached_property
    def medium(self) -> Q:
        """2 MEDIUM (unless HIGH): no call in 3+ days, or missing coach with an open deal."""
        return self._called_before(MEDIUM_AFTER_DAYS) | (
            self.missing_coach & Q(open_deal_amount__isnull=False)
        )

    def priority_is(self, priority: int) -> Q:
        """Rows of exactly this priority (what the priority filter and cards use)."""
        if priority == Priority.HIGH:
            return self.high
        if priority == Priority.MEDIUM:
            return ~self.high & self.medium
        return ~self.high & ~self.medium

    @cached_property
    def priority(self) -> Case:
        return Case(
            When(self.high, then=Value(int(Priority.HIGH))),
            When(self.medium, then=Value(int(Priority.MEDIUM))),
            default=Value(int(Priority.LOW)),
            output_field=IntegerField(),
        )


def follow_up_rules(*, now: datetime | None = None) -> FollowUpRules:
    return FollowUpRules(now=now or timeutils.now())


def annotate_priority(queryset: QuerySet, rules: FollowUpRules) -> QuerySet:
    """Add `follow_up_priority` (1 HIGH, 2 MEDIUM, 3 LOW), for sorting and showing."""
    return queryset.annotate(**{PRIORITY_ATTRIBUTE: rules.priority})


def annotate_flags(queryset: QuerySet, rules: FollowUpRules) -> QuerySet:
    """Add one boolean `flag_<name>` per flag (what a row's badges show)."""
    return queryset.annotate(
        **{
            flag_attribute(flag): ExpressionWrapper(rules.flag(flag), output_field=BooleanField())
            for flag in Flag
        }
    )


def flags_of(contact) -> list[Flag]:
    """The flags that hold for a contact annotated by annotate_flags, in Flag order."""
    return [flag for flag in Flag if getattr(contact, flag_attribute(flag), False)]
