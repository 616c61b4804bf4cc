"""Reads for the call queue (SPEC S2): who to call next, why, and on which channel."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet

from calls.models import CallOutcome, CallStatus
from crm import timeutils
from leads.models import FOLLOW_UP_STAGES, Contact, Owner, Zone
from leads.selectors import User, calls_visible_to, contacts_visible_to
from scoring.channels import ChannelRecommendation, recommend_channel
from scoring.priority import (
    HIGH_PRIORITY,
    URGENT_PRIORITY,
    Factor,
    annotate_priority,
    factors_active,
    priority_from_raw,
    raw_minimum_for,
    reason_line,
    reasons_for,
    score_from_raw,
)

# A lead called this recently is left alone, whatever its priority.
RECENTLY_CALLED = timedelta(hours=1)
QUEUE_ZONES = (Zone.RED, Zone.ORANGE, Zone.YELLOW)
OWNER_RECENTLY_CHANGED = timedelta(days=7)

# Only what the queue renders; the facts columns make it one row per contact.
QUEUE_COLUMNS = (
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "phone_is_valid",
    "mobile",
    "mobile_is_valid",
    "owner__id",
    "owner__first_name",
    "owner__last_name",
    "owner_changed_at",
    "lifecycle_stage",
    "health_zone",
    "health_score",
    "predictive_risk",
    "pattern_status",
    "package_end_date",
    "sessions_left",
    "last_call_at",
    "last_call_status",
    "last_call_outcome",
    "last_call_note",
    "call_count",
    "hs_created_at",
    "created_at",
    "open_deal_amount",
    "next_task_due_at",
    "do_not_contact",
    "phone_opt_out",
    "whatsapp_opt_out",
    "email_opt_out",
    "sms_opt_out",
    "hubspot_id",
    "city",
)


@dataclass(frozen=True)
class QueueFilters:
    owner: Owner | None = None  # None: every owner the user may see
    days_threshold: int = 3
    include_all_zones: bool = False
    limit: int = 50


@dataclass(frozen=True)
class QueueEntry:
    contact: Contact
    priority: int
    score: int
    reasons: list[str]
    reason: str
    channel: ChannelRecommendation
    days_since_contact: int | None
    owner_recently_changed: bool

    @property
    def is_urgent(self) -> bool:
        return self.priority >= URGENT_PRIORITY


@dataclass(frozen=True)
class QueueSummary:
    total: int
    urgent: int
    high: int
    contacted_today: int


@dataclass(frozen=True)
class CallQueue:
    entries: list[QueueEntry]
    summary: QueueSummary
    filters: QueueFilters
    generated_at: datetime
    factors: list[Factor] = field(repr=False, default_factory=list)


def queue_candidates(*, user: User, filters: QueueFilters, now: datetime) -> QuerySet[Contact]:
    """Contacts that need action now: workable, not snoozed, not called in the last hour, in the
    chosen zones, and either not contacted for `days_threshold` days, never called, or with an
    overdue task."""
    contacts = contacts_visible_to(user).filter(
        is_archived=False,
        merged_into__isnull=True,
        do_not_contact=False,
        lifecycle_stage__in=FOLLOW_UP_STAGES,
    )
    if filters.owner is not None:
        contacts = contacts.filter(owner=filters.owner)
    if not filters.include_all_zones:
        # Clients in a worrying zone, plus every lead (no health score yet).
        contacts = contacts.filter(Q(health_zone__in=QUEUE_ZONES) | Q(health_zone=""))
    if filters.days_threshold > 0:
        not_contacted = Q(last_call_at__lt=timeutils.days_ago_boundary(filters.days_threshold)) | Q(
            last_call_at__isnull=True
        )
        contacts = contacts.filter(not_contacted | Q(next_task_due_at__lt=now))
    return contacts.filter(
        Q(last_call_at__isnull=True) | Q(last_call_at__lt=now - RECENTLY_CALLED),
        Q(queue_state__isnull=True)
        | Q(queue_state__snoozed_until__isnull=True)
        | Q(queue_state__snoozed_until__lte=now),
    )


def call_queue(*, user: User, filters: QueueFilters, now: datetime | None = None) -> CallQueue:
    """The queue, highest priority first, with its summary cards (four queries in all)."""
    now = now or timeutils.now()
    factors = factors_active(now=now)
    candidates = annotate_priority(queue_candidates(user=user, filters=filters, now=now), factors)
    rows = list(
        candidates.select_related("owner")
        .only(*QUEUE_COLUMNS)
        .order_by("-priority_raw", "last_call_at", "pk")[: filters.limit]
    )
    entries = [_entry(contact, factors, now) for contact in rows]
    counts = candidates.aggregate(
        total=Count("pk"),
        urgent=Count("pk", filter=Q(priority_raw__gte=raw_minimum_for(URGENT_PRIORITY))),
        high=Count(
            "pk",
            filter=Q(
                priority_raw__gte=raw_minimum_for(HIGH_PRIORITY),
                priority_raw__lt=raw_minimum_for(URGENT_PRIORITY),
            ),
        ),
    )
    summary = QueueSummary(contacted_today=contacted_today(user=user, owner=filters.owner), **counts)
    return CallQueue(entries=entries, summary=summary, filters=filters, generated_at=now, factors=factors)


def _entry(contact: Contact, factors: list[Factor], now: datetime) -> QueueEntry:
    priority = priority_from_raw(contact.priority_raw)
    reasons = reasons_for(contact, factors, now=now)
    return QueueEntry(
        contact=contact,
        priority=priority,
        score=score_from_raw(contact.priority_raw),
        reasons=reasons,
        reason=reason_line(priority, reasons),
        channel=recommend_channel(contact, priority=priority),
        days_since_contact=timeutils.days_since(contact.last_call_at, at=now),
        owner_recently_changed=bool(
            contact.owner_changed_at and contact.owner_changed_at >= now - OWNER_RECENTLY_CHANGED
        ),
    )


def contacted_today(*, user: User, owner: Owner | None) -> int:
    """Contacts (of the owner, or all visible) with a call in today's business day."""
    start, end = timeutils.today_range()
    contacts = contacts_visible_to(user).filter(last_call_at__gte=start, last_call_at__lt=end)
    if owner is not None:
        contacts = contacts.filter(owner=owner)
    return contacts.count()


@dataclass(frozen=True)
class ActivityToday:
    calls: int
    reached: int
    bookings: int

    @property
    def conversion_rate(self) -> float | None:
        """Bookings per reached contact today; None before anyone was reached."""
        return self.bookings / self.reached if self.reached else None


def activity_today(*, user: User, owner: Owner | None) -> ActivityToday:
    """Setter activity today for the owner (or everyone visible): one query on the call index."""
    start, end = timeutils.today_range()
    calls = calls_visible_to(user).filter(started_at__gte=start, started_at__lt=end)
    if owner is not None:
        calls = calls.filter(owner=owner)
    totals = calls.aggregate(
        calls=Count("pk"),
        reached=Count("pk", filter=Q(status=CallStatus.ANSWERED)),
        bookings=Count("pk", filter=Q(outcome=CallOutcome.BOOKED)),
    )
    return ActivityToday(**totals)
