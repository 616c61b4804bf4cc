"""What the replenishment page shows, composed from the plan, the rotation and the audit (reads only)."""

from dataclasses import dataclass
from datetime import datetime

from campaigns import selectors
from campaigns.models import ReplenishmentConfig, ReplenishmentLease, ReplenishmentRun, ReplenishmentSource
from campaigns.replenishment import Plan, replenishment_plan
from campaigns.services import LEASE_NAME
from crm import timeutils
from leads.assignment import AssignmentResult, OwnerSlot, assignment_preview, owner_slots


@dataclass(frozen=True)
class TierRow:
    tier: str
    available: int
    minimum: int
    is_below: bool
    conversion: selectors.TierConversion
    mix: int
    target: int
    selected: int


@dataclass(frozen=True)
class Overview:
    config: ReplenishmentConfig
    plan: Plan
    tiers: list[TierRow]
    next_assignment: AssignmentResult
    owners: list[OwnerSlot]
    runs: list[ReplenishmentRun]
    sources: list[ReplenishmentSource]
    uploaded_today: int
    lock: ReplenishmentLease | None
    is_running: bool


def replenishment_overview(*, at: datetime | None = None) -> Overview:
    """Everything the replenishment page shows: inventory against thresholds, 30-day conversion,
    what the next run would do (a plan, nothing written), who can take leads, runs and sources."""
    at = at or timeutils.now()
    config = selectors.config_current()
    plan = replenishment_plan(config=config, at=at)
    selected = plan.selected_by_tier()
    tiers = [
        TierRow(
            tier=tier,
            available=plan.inventory.by_tier[tier],
            minimum=minimum,
            is_below=plan.inventory.by_tier[tier] < minimum,
            conversion=plan.inventory.conversion[tier],
            mix=plan.mix[tier],
            target=plan.targets.get(tier, 0),
            selected=selected[tier],
        )
        for tier, minimum in config.tier_minimums().items()
    ]
    lock = ReplenishmentLease.objects.filter(name=LEASE_NAME).first()
    owners = owner_slots(at=at, include_unavailable=True)
    return Overview(
        config=config,
        plan=plan,
        tiers=tiers,
        next_assignment=assignment_preview(
            new_lead_tiers=[tier for _, tier in plan.selected], at=at, slots=owners
        ),
        owners=owners,
        runs=selectors.runs_recent(),
        sources=selectors.sources_with_counts(),
        uploaded_today=selectors.uploaded_today(at=at),
        lock=lock,
        is_running=bool(lock and lock.holder and lock.expires_at > at),
    )
