"""Fair lead assignment (SPEC S7 assignment, S9 "without overloading anyone").

What the well-known rotations get wrong, and what this one does instead:

- Odoo weights by capacity but its daily quota is a hard cap: once everyone is full, leads stay
  unassigned for good. Here a lead that finds no room simply waits in the unassigned pool and the
  next assignment (every replenishment run, the admin action, the manager's button) hands it out
  as soon as someone's rolling 24-hour quota frees up: carried over, never stranded.
- HubSpot's rotation cannot skip absent reps and SuiteCRM's includes deactivated users. Here only
  active owners with capacity who are not away (`Owner.away_until`) take part.
- A plain counter makes a returning rep "catch up" on everything they missed. This rotation is
  start-time fair queueing: each owner has a virtual finish time (`Owner.rotation_finish`), every
  lead advances it by 1 / capacity, and the next lead goes to the owner whose turn starts first.
  An owner who was away, or full, restarts at the shared virtual clock (`AssignmentRotation`), so
  they rejoin at their fair rate: no burst, and no penalty either.

Capacity is `Owner.daily_call_capacity`: shares follow it (capacities 1:2:3 get leads 1:2:3), and
nobody receives more than it in any 24 hours (counted from their owner-change history, so manual
moves count too; HubSpot's own owner changes do not). Best leads go first: tier A+, A, B, then
the queue score, then the longest waiting. Every allocation is an OwnerChange with source
"assignment".
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from crm import timeutils
from leads.models import (
    AssignmentRotation,
    Contact,
    LeadStatus,
    LifecycleStage,
    Owner,
    OwnerChange,
    OwnerChangeSource,
    Tier,
)
from leads.services import contacts_reassign

QUOTA_WINDOW = timedelta(hours=24)
# Moves that put work on an owner's desk. HubSpot's own owner changes (sync, webhook) only mirror
# what happened there and are not ours to ration.
QUOTA_SOURCES = (OwnerChangeSource.ASSIGNMENT, OwnerChangeSource.REPLENISHMENT, OwnerChangeSource.MANUAL)
# Stages where a lead is still to be worked: before any sales conversation (later stages have
# converted; LOST/OTHER are out).
WORKABLE_LEAD_STAGES = (
    LifecycleStage.SUBSCRIBER,
    LifecycleStage.LEAD,
    LifecycleStage.MQL,
    LifecycleStage.SQL,
)
# Statuses that close a lead: no longer to be worked even if never converted.
CLOSED_LEAD_STATUSES = (LeadStatus.UNQUALIFIED, LeadStatus.OPEN_DEAL)
TIER_RANK = {Tier.A_PLUS: 0, Tier.A: 1, Tier.B: 2}


@dataclass
class OwnerSlot:
    """One owner as the rotation sees them at a moment."""

    owner_id: int
    name: str
    capacity: int
    received_24h: int
    finish: float
    away_until: date | None = None
    is_available: bool = True
    unavailable_reason: str = ""

    @property
    def room(self) -> int:
        return max(0, self.capacity - self.received_24h) if self.is_available else 0

    @property
    def stride(self) -> float:
        return 1.0 / self.capacity


@dataclass(frozen=True)
class AssignmentPlan:
    allocations: list[tuple[int, int]]  # (contact id, owner id), best lead first
    carried_over: list[int]  # contact ids that found no room, still unassigned
    slots: list[OwnerSlot]  # owners after the allocations
    virtual_time: float


@dataclass
class AssignmentResult:
    assigned: int = 0
    carried_over: int = 0
    # Owner name -> leads given this time ("who got what"), in rotation order.
    by_owner: dict[str, int] = field(default_factory=dict)
    contact_ids: list[int] = field(default_factory=list)

    def summary(self) -> str:
        if not self.assigned and not self.carried_over:
            return "No lead waiting for an owner."
        given = ", ".join(f"{name} {n}" for name, n in self.by_owner.items()) or "nobody"
        text = f"Assigned {self.assigned} lead{'s' if self.assigned != 1 else ''} ({given})."
        if self.carried_over:
            text += f" {self.carried_over} wait for room (everyone at their 24-hour quota or away)."
        return text


def allocation_plan(
    *, lead_ids: Sequence[int], slots: Sequence[OwnerSlot], virtual_time: float
) -> AssignmentPlan:
    """Who gets which lead, best lead first (pure: no database).

    The next lead goes to the owner with room whose turn starts first: max(virtual clock, their
    finish). Ties go to the larger capacity, then the lower id, so the plan is deterministic.
    An owner behind the clock (away, full, or new) starts at the clock, so they cannot catch up.
    """
    slots = [replace(slot) for slot in slots]
    allocations: list[tuple[int, int]] = []
    clock = virtual_time
    remaining = list(lead_ids)
    while remaining:
        open_slots = [slot for slot in slots if slot.room > 0]
        if not open_slots:
            break
        chosen = min(
            open_slots,
            key=lambda s: (max(clock, s.finish), max(clock, s.finish) + s.stride, s.owner_id),
        )
        start = max(clock, chosen.finish)
        chosen.finish = start + chosen.stride
        chosen.received_24h += 1
        clock = start
        allocations.append((remaining.pop(0), chosen.owner_id))
    return AssignmentPlan(allocations=allocations, carried_over=remaining, slots=slots, virtual_time=clock)


def owner_slots(*, at: datetime | None = None, include_unavailable: bool = False) -> list[OwnerSlot]:
    """Active owners with their capacity, leads received in the last 24 hours and rotation place.

    Two queries. With include_unavailable, owners who are away or have no capacity come too
    (with the reason), for the page that shows who can take leads.
    """
    at = at or timeutils.now()
    today = timezone.localdate(at)
    received = dict(
        OwnerChange.objects.filter(
            changed_at__gt=at - QUOTA_WINDOW,
            changed_at__lte=at,
            source__in=QUOTA_SOURCES,
            to_owner__isnull=False,
        )
        .values_list("to_owner")
        .annotate(n=Count("id"))
        .order_by()
    )
    slots = []
    for owner in Owner.objects.filter(is_active=True).order_by("pk"):
        reason = ""
        if owner.away_until and owner.away_until >= today:
            reason = f"away until {owner.away_until:%d %b}"
        elif owner.daily_call_capacity == 0:
            reason = "no capacity"
        if reason and not include_unavailable:
            continue
        slots.append(
            OwnerSlot(
                owner_id=owner.pk,
                name=str(owner),
                capacity=owner.daily_call_capacity,
                received_24h=received.get(owner.pk, 0),
                finish=owner.rotation_finish,
                away_until=owner.away_until,
                is_available=not reason,
                unavailable_reason=reason,
            )
        )
    return slots


def workable_leads() -> QuerySet[Contact]:
    """Leads still to be worked, owned or not: early stage, not closed, not archived, merged or
    do-not-contact. Replenishment counts its stock from these; assignment hands out the unowned."""
    return Contact.objects.filter(
        lifecycle_stage__in=WORKABLE_LEAD_STAGES,
        is_archived=False,
        merged_into__isnull=True,
        do_not_contact=False,
    ).exclude(lead_status__in=CLOSED_LEAD_STATUSES)


def waiting_contacts() -> QuerySet[Contact]:
    """New leads with no owner that assignment may hand out (the carried-over pool)."""
    return workable_leads().filter(owner__isnull=True)


def best_first(contacts: QuerySet[Contact]) -> QuerySet[Contact]:
    """Tier A+, A, B, untiered; then the queue score; longest waiting first."""
    tier_rank = Case(
        *(When(tier=tier, then=Value(rank)) for tier, rank in TIER_RANK.items()),
        default=Value(len(TIER_RANK)),
        output_field=IntegerField(),
    )
    return contacts.order_by(tier_rank.asc(), F("queue_score").desc(nulls_last=True), "pk")


def assignment_preview(
    *,
    contact_ids: Sequence[int] | None = None,
    new_lead_tiers: Sequence[str] = (),
    at: datetime | None = None,
    slots: Sequence[OwnerSlot] | None = None,
) -> AssignmentResult:
    """What `contacts_assign` would do now, without writing anything (dry run, the page).

    new_lead_tiers: leads about to be created (by a replenishment), best first; they queue behind
    the waiting leads of their own tier, as their newer ids would make them.
    """
    at = at or timeutils.now()
    # The caller may pass the owners it already read for the same moment (unavailable ones skipped).
    slots = [slot for slot in slots if slot.is_available] if slots is not None else owner_slots(at=at)
    rotation = AssignmentRotation.objects.filter(pk="default").first()
    room = sum(slot.room for slot in slots)
    waiting = (
        list(best_first(_candidate_contacts(contact_ids)).values_list("pk", "tier")[:room]) if room else []
    )
    new = [(-(index + 1), tier) for index, tier in enumerate(new_lead_tiers)]
    ranked = sorted(waiting + new, key=lambda lead: TIER_RANK.get(lead[1], len(TIER_RANK)))  # stable
    plan = allocation_plan(
        lead_ids=[pk for pk, _ in ranked],
        slots=slots,
        virtual_time=rotation.virtual_time if rotation else 0.0,
    )
    # Leads beyond the room were never offered to the plan; they wait along with its leftovers.
    total = _candidate_contacts(contact_ids).count() + len(new)
    return _result(
        plan, names={slot.owner_id: slot.name for slot in slots}, carried_over=total - len(plan.allocations)
    )


@transaction.atomic
def contacts_assign(
    *,
    contact_ids: Sequence[int] | None = None,
    at: datetime | None = None,
    changed_by: AbstractBaseUser | None = None,
    note: str = "",
) -> AssignmentResult:
    """Hand leads to owners by the capacity-weighted rotation, best lead first.

    contact_ids=None takes the whole waiting pool (`waiting_contacts`); otherwise the given
    contacts that have no owner, or whose owner is no longer active (a departed rep's leads), and
    are not archived, merged or do-not-contact. What finds no room stays unassigned and is
    counted as carried over; the next call picks it up. One transaction: the rotation row is
    locked first, so concurrent assignments queue behind each other and quotas hold.
    """
    at = at or timeutils.now()
    AssignmentRotation.objects.get_or_create(pk="default")
    rotation = AssignmentRotation.objects.select_for_update().get(pk="default")
    slots = owner_slots(at=at)
    candidates = _candidates(contact_ids=contact_ids, limit=sum(slot.room for slot in slots), lock=True)
    plan = allocation_plan(lead_ids=candidates, slots=slots, virtual_time=rotation.virtual_time)

    per_owner: dict[int, list[int]] = defaultdict(list)
    for contact_id, owner_id in plan.allocations:
        per_owner[owner_id].append(contact_id)
    owners = Owner.objects.in_bulk(list(per_owner))
    for owner_id, ids in per_owner.items():
        contacts_reassign(
            contact_ids=ids,
            to_owner=owners[owner_id],
            source=OwnerChangeSource.ASSIGNMENT,
            changed_by=changed_by,
            note=note,
            at=at,
        )
    Owner.objects.bulk_update(
        [
            Owner(pk=slot.owner_id, rotation_finish=slot.finish)
            for slot in plan.slots
            if slot.owner_id in per_owner
        ],
        ["rotation_finish"],
    )
    if plan.allocations:
        AssignmentRotation.objects.filter(pk="default").update(virtual_time=plan.virtual_time)
    # Counted after the moves: whatever is still assignable found no room and carries over.
    waiting = _candidate_contacts(contact_ids).count()
    return _result(plan, names={slot.owner_id: slot.name for slot in slots}, carried_over=waiting)


def _candidate_contacts(contact_ids: Sequence[int] | None) -> QuerySet[Contact]:
    if contact_ids is None:
        return waiting_contacts()
    return Contact.objects.filter(
        Q(owner__isnull=True) | Q(owner__is_active=False),
        pk__in=list(contact_ids),
        is_archived=False,
        merged_into__isnull=True,
        do_not_contact=False,
    )


def _candidates(*, contact_ids: Sequence[int] | None, limit: int, lock: bool) -> list[int]:
    """Ids to offer the rotation, best first, at most `limit` (all the room there is)."""
    if limit <= 0:
        return []
    contacts = _candidate_contacts(contact_ids)
    if lock:
        # Only contact rows: a contact someone else assigns meanwhile waits, then drops out.
        contacts = contacts.select_for_update(of=("self",))
    return list(best_first(contacts).values_list("pk", flat=True)[:limit])


def _result(plan: AssignmentPlan, *, names: dict[int, str], carried_over: int) -> AssignmentResult:
    result = AssignmentResult(
        assigned=len(plan.allocations),
        carried_over=carried_over,
        contact_ids=[contact_id for contact_id, _ in plan.allocations],
    )
    for _, owner_id in plan.allocations:
        result.by_owner[names[owner_id]] = result.by_owner.get(names[owner_id], 0) + 1
    return result
