"""Reads for lead replenishment: inventory, conversion, runs, sources."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from campaigns.models import (
    TIERS,
    ReplenishmentConfig,
    ReplenishmentRun,
    ReplenishmentSource,
    SourceLeadStatus,
)
from crm import timeutils
from leads.assignment import workable_leads
from leads.models import Contact, LifecycleStage

CONVERSION_DAYS = 30
CONVERTED_STAGES = (LifecycleStage.OPPORTUNITY, LifecycleStage.CUSTOMER)


@dataclass(frozen=True)
class TierConversion:
    tier: str
    leads: int
    converted: int

    @property
    def rate(self) -> float | None:
        return self.converted / self.leads if self.leads else None

    @property
    def percent(self) -> int | None:
        return None if self.rate is None else round(self.rate * 100)


@dataclass(frozen=True)
class Inventory:
    total: int
    by_tier: dict[str, int]
    unassigned: int
    untiered: int
    conversion: dict[str, TierConversion]

    def as_json(self) -> dict:
        return {
            "total": self.total,
            "by_tier": self.by_tier,
            "unassigned": self.unassigned,
            "conversion_30d": {
                tier: {"leads": c.leads, "converted": c.converted, "percent": c.percent}
                for tier, c in self.conversion.items()
            },
        }


def available_leads() -> QuerySet[Contact]:
    """Leads available to work: assigned to an active owner or assignable, not yet contacted or still
    open, not do-not-contact, not archived or merged (SPEC S9 inventory)."""
    return workable_leads().filter(Q(owner__isnull=True) | Q(owner__is_active=True))


def inventory(*, at: datetime | None = None) -> Inventory:
    """Available leads by tier, and how each tier's leads of the last 30 days converted (two queries)."""
    at = at or timeutils.now()
    counts = available_leads().aggregate(
        total=Count("id"),
        unassigned=Count("id", filter=Q(owner__isnull=True)),
        **{f"tier_{i}": Count("id", filter=Q(tier=tier)) for i, tier in enumerate(TIERS)},
    )
    by_tier = {tier: counts[f"tier_{i}"] for i, tier in enumerate(TIERS)}
    since = at - timedelta(days=CONVERSION_DAYS)
    # A HubSpot contact's creation there counts; ours (replenished leads) when it has none.
    recent = Contact.objects.filter(
        Q(hs_created_at__gte=since, hs_created_at__lte=at)
        | Q(hs_created_at__isnull=True, created_at__gte=since, created_at__lte=at),
        tier__in=TIERS,
        merged_into__isnull=True,
    )
    converted = Q(booking_count__gt=0) | Q(lifecycle_stage__in=CONVERTED_STAGES)
    rows = {
        row["tier"]: row
        for row in recent.values("tier")
        .annotate(leads=Count("id"), converted=Count("id", filter=converted))
        .order_by()
    }
    conversion = {
        tier: TierConversion(tier, rows.get(tier, {}).get("leads", 0), rows.get(tier, {}).get("converted", 0))
        for tier in TIERS
    }
    return Inventory(
        total=counts["total"],
        by_tier=by_tier,
        unassigned=counts["unassigned"],
        untiered=counts["total"] - sum(by_tier.values()),
        conversion=conversion,
    )


def config_current() -> ReplenishmentConfig:
    """The saved configuration, or the S9 defaults when none was saved yet (not written)."""
    return ReplenishmentConfig.objects.filter(pk=1).first() or ReplenishmentConfig(pk=1)


def runs_recent(*, limit: int = 10) -> list[ReplenishmentRun]:
    return list(ReplenishmentRun.objects.select_related("triggered_by")[:limit])


def uploaded_today(*, at: datetime) -> int:
    """Contacts created by runs since the start of this business day (the daily cap)."""
    start = timeutils.start_of_day(timezone.localdate(at))
    return sum(
        ReplenishmentRun.objects.filter(created__gt=0, started_at__gte=start, started_at__lte=at).values_list(
            "created", flat=True
        )
    )


def last_upload(*, at: datetime) -> ReplenishmentRun | None:
    return ReplenishmentRun.objects.filter(created__gt=0, started_at__lte=at).order_by("-started_at").first()


def sources_with_counts() -> list[ReplenishmentSource]:
    """Sources with how many of their rows wait, were created, duplicated or bad (one query)."""
    return list(
        ReplenishmentSource.objects.annotate(
            **{
                f"{status}_count": Count("leads", filter=Q(leads__status=status))
                for status in SourceLeadStatus.values
            }
        ).order_by("-is_active", "-created_at")
    )
