"""Reads for the call queue (SPEC S2): who to call next, why, and on which channel."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from calls.drafts import Draft, DraftFacts, draft_facts_for, drafts_for
from calls.models import CallOutcome, CallRecord, CallStatus, QueueState, call_status_label
from crm import roles, timeutils
from crm.fragments import fragment_key
from leads.models import OWNER_RECENTLY_CHANGED_DAYS, Contact, HealthScore, Owner, PatternStatus, Zone
from leads.selectors import User, calls_visible_to, contacts_visible_to
from scoring.channels import ChannelRecommendation, recommend_channel
from scoring.models import PriorityFactor
from scoring.priority import (
    HIGH_PRIORITY,
    QUEUE_WORKABLE,
    URGENT_PRIORITY,
    factors_enabled,
    factors_held,
    priority_from_score,
    reason_line,
    reasons_for,
    score_from_stored,
    score_minimum_for,
)

# A lead called this recently is left alone, whatever its priority.
RECENTLY_CALLED = timedelta(hours=1)
QUEUE_ZONES = (Zone.RED, Zone.ORANGE, Zone.YELLOW)

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
    "queue_score",
    "queue_factors",
    "open_deal_amount",
    "next_task_due_at",
    "do_not_contact",
    "phone_opt_out",
    "whatsapp_opt_out",
    "email_opt_out",
    "sms_opt_out",
    "hubspot_id",
    "city",
    "queue_state__snoozed_until",
    "queue_state__snooze_reason",
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

    @property
    def last_call_label(self) -> str:
        """The last call's status as people read it ("No answer"); "" before the first call."""
        return call_status_label(self.contact.last_call_status)


@dataclass(frozen=True)
class QueueSummary:
    total: int
    urgent: int
    high: int
    contacted_today: int


def of_owner(queryset: QuerySet, owner: Owner | None) -> QuerySet:
    """The rows of one owner, or all of them (already scoped to the user) when owner is None."""
    return queryset if owner is None else queryset.filter(owner=owner)


def queue_candidates(*, user: User, filters: QueueFilters, now: datetime) -> QuerySet[Contact]:
    """Contacts that need action now: workable, not snoozed, not called in the last hour, in the
    chosen zones, and either not contacted for `days_threshold` days, never called, or with an
    overdue task."""
    # The stored score says who is workable; the conditions are checked again live, so a contact
    # archived or marked do-not-contact a minute ago is gone before the next refresh.
    contacts = contacts_visible_to(user).filter(QUEUE_WORKABLE, queue_score__isnull=False)
    contacts = of_owner(contacts, filters.owner)
    if not filters.include_all_zones:
        # Clients in a worrying zone, plus every lead (no health score yet).
        contacts = contacts.filter(Q(health_zone__in=QUEUE_ZONES) | Q(health_zone=""))
    # Snoozes are looked up, not joined: a join probes the queue state of each of an owner's
    # thousands of candidates, where these read the few snoozes once and leave the rest of the
    # filter to the owner's queue index. (The run-out snoozes as a correlated EXISTS would make
    # PostgreSQL's estimate for the all-owners count high enough to JIT-compile it: 0.3 s.)
    if filters.days_threshold > 0:
        not_contacted = Q(last_call_at__lt=timeutils.days_ago_boundary(filters.days_threshold, at=now)) | Q(
            last_call_at__isnull=True
        )
        snooze_over = QueueState.objects.filter(snoozed_until__lte=now).values("contact_id")
        follow_up_due = Q(next_task_due_at__lt=now) | Q(pk__in=snooze_over)
        contacts = contacts.filter(not_contacted | follow_up_due)
    snoozed = QueueState.objects.filter(contact=OuterRef("pk"), snoozed_until__gt=now)
    return contacts.filter(
        Q(last_call_at__isnull=True) | Q(last_call_at__lt=now - RECENTLY_CALLED), ~Exists(snoozed)
    )


class CallQueue:
    """The queue for some filters. Its entries and its summary are each computed on first use
    (one query each, plus one for "contacted today"), so a page fragment that shows only the
    cards never builds the list.

    Who is in the queue is decided now (snoozes, calls in the last hour, the filters); order,
    priority and reasons come from the stored queue score and factors (an index walk), which every
    write refreshes at once and a job every five minutes refreshes as time passes.
    """

    def __init__(self, *, user: User, filters: QueueFilters, now: datetime | None = None):
        self.user, self.filters = user, filters
        self.generated_at = now or timeutils.now()
        self._candidates = queue_candidates(user=user, filters=filters, now=self.generated_at)

    @cached_property
    def factors(self) -> list[PriorityFactor]:
        return factors_enabled()

    @cached_property
    def entries(self) -> list[QueueEntry]:
        rows = (
            self._candidates.select_related("owner", "queue_state")
            .only(*QUEUE_COLUMNS)
            .order_by("-queue_score", "last_call_at", "pk")[: self.filters.limit]
        )
        return [_entry(contact, self.factors, self.generated_at) for contact in rows]

    @cached_property
    def summary(self) -> QueueSummary:
        urgent, high = score_minimum_for(URGENT_PRIORITY), score_minimum_for(HIGH_PRIORITY)
        counts = self._candidates.aggregate(
            total=Count("pk"),
            urgent=Count("pk", filter=Q(queue_score__gte=urgent)),
            high=Count("pk", filter=Q(queue_score__gte=high, queue_score__lt=urgent)),
        )
        return QueueSummary(
            **counts, contacted_today=contacted_today(user=self.user, owner=self.filters.owner)
        )


def call_queue(*, user: User, filters: QueueFilters, now: datetime | None = None) -> CallQueue:
    """The queue, highest priority first, with its summary cards."""
    return CallQueue(user=user, filters=filters, now=now)


def _entry(contact: Contact, factors: list[PriorityFactor], now: datetime) -> QueueEntry:
    priority = priority_from_score(contact.queue_score or 0)
    reasons = reasons_for(contact, factors_held(contact, factors), now=now)
    return QueueEntry(
        contact=contact,
        priority=priority,
        score=score_from_stored(contact.queue_score or 0),
        reasons=reasons,
        reason=reason_line(priority, reasons),
        channel=recommend_channel(contact, priority=priority),
        days_since_contact=timeutils.days_since(contact.last_call_at, at=now),
        owner_recently_changed=bool(
            contact.owner_changed_at
            and contact.owner_changed_at >= now - timedelta(days=OWNER_RECENTLY_CHANGED_DAYS)
        ),
    )


def queue_entry_for(*, contact: Contact, now: datetime | None = None) -> QueueEntry:
    """One contact's priority, reasons and channel, as the queue would show them."""
    now = now or timeutils.now()
    row = Contact.objects.select_related("owner", "queue_state").only(*QUEUE_COLUMNS).get(pk=contact.pk)
    return _entry(row, factors_enabled(), now)


def contacted_today(*, user: User, owner: Owner | None) -> int:
    """Contacts (of the owner, or all visible) with a call in today's business day."""
    start, end = timeutils.today_range()
    contacts = contacts_visible_to(user).filter(last_call_at__gte=start, last_call_at__lt=end)
    contacts = of_owner(contacts, owner)
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
    calls = of_owner(calls, owner)
    totals = calls.aggregate(
        calls=Count("pk"),
        reached=Count("pk", filter=Q(status=CallStatus.ANSWERED)),
        bookings=Count("pk", filter=Q(outcome=CallOutcome.BOOKED)),
    )
    return ActivityToday(**totals)


def pattern_break_alerts(*, user: User, owner: Owner | None, limit: int = 10) -> list[Contact]:
    """Contacts whose calls fell below half their usual rhythm, longest silent first."""
    contacts = contacts_visible_to(user).filter(
        pattern_status=PatternStatus.PATTERN_BREAK, is_archived=False, merged_into__isnull=True
    )
    contacts = of_owner(contacts, owner)
    return list(
        contacts.select_related("owner")
        .only(
            "id",
            "first_name",
            "last_name",
            "health_zone",
            "last_call_at",
            "owner__first_name",
            "owner__last_name",
        )
        .order_by(F("last_call_at").asc(nulls_first=True), "pk")[:limit]
    )


@dataclass(frozen=True)
class RecentAssignment:
    contact: Contact
    health_before: int | None
    health_now: int | None

    @property
    def health_change(self) -> int | None:
        if self.health_before is None or self.health_now is None:
            return None
        return self.health_now - self.health_before


def recently_assigned(
    *,
    user: User,
    owner: Owner | None,
    days: int = OWNER_RECENTLY_CHANGED_DAYS,
    limit: int = 20,
    now: datetime | None = None,
) -> list[RecentAssignment]:
    """Contacts whose owner changed in the last `days` days, with their health then and now."""
    now = now or timeutils.now()
    contacts = contacts_visible_to(user).filter(
        owner_changed_at__gte=now - timedelta(days=days), is_archived=False
    )
    contacts = of_owner(contacts, owner)
    score_at_change = (
        HealthScore.objects.filter(contact=OuterRef("pk"), computed_at__lte=OuterRef("owner_changed_at"))
        .order_by("-computed_at")
        .values("score")[:1]
    )
    rows = (
        contacts.select_related("owner")
        .only(
            "id",
            "first_name",
            "last_name",
            "health_zone",
            "health_score",
            "owner_changed_at",
            "owner__first_name",
            "owner__last_name",
        )
        .annotate(health_before=Subquery(score_at_change))
        .order_by("-owner_changed_at", "pk")[:limit]
    )
    return [RecentAssignment(c, c.health_before, c.health_score) for c in rows]


WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@dataclass(frozen=True)
class OwnerRhythm:
    owner: Owner
    usual_weekdays: list[int]  # ISO weekdays, 1 = Monday
    last_call_at: datetime | None
    missed_usual_day: date | None  # the latest usual day without a call, if any

    @property
    def usual_days_label(self) -> str:
        return "/".join(WEEKDAY_NAMES[d - 1][:3] for d in self.usual_weekdays)

    @property
    def alert(self) -> str:
        """ "Sarah usually calls Tue/Thu, none since Monday", or "" when on rhythm."""
        if self.missed_usual_day is None:
            return ""
        since = (
            f"none since {WEEKDAY_NAMES[timezone.localdate(self.last_call_at).weekday()]}"
            if self.last_call_at
            else "no calls yet"
        )
        return f"{self.owner.first_name or self.owner} usually calls {self.usual_days_label}, {since}"


def owner_rhythms(*, owners: QuerySet[Owner], now: datetime | None = None) -> list[OwnerRhythm]:
    """Each owner's usual calling weekdays (kept by the hourly job) and whether a usual day went
    by since their last call. One query: the last call comes from the (owner, started_at) index."""
    today = timezone.localdate(now or timeutils.now())
    last_call = (
        CallRecord.objects.filter(owner=OuterRef("pk")).order_by("-started_at").values("started_at")[:1]
    )
    rows = owners.annotate(last_call_at=Subquery(last_call)).only(
        "id", "first_name", "last_name", "usual_call_weekdays"
    )
    return [
        OwnerRhythm(
            o,
            o.usual_call_weekdays,
            o.last_call_at,
            _missed_usual_day(o.usual_call_weekdays, o.last_call_at, today),
        )
        for o in rows
    ]


def _missed_usual_day(usual: list[int], last_call_at: datetime | None, today: date) -> date | None:
    """The most recent usual weekday before today with no call on or after it."""
    if not usual:
        return None
    last_day = timezone.localdate(last_call_at) if last_call_at else None
    for back in range(1, 8):
        day = today - timedelta(days=back)
        if day.isoweekday() in usual:
            return day if last_day is None or last_day < day else None
    return None


def entry_draft_facts(entry: QueueEntry) -> DraftFacts:
    contact = entry.contact
    return draft_facts_for(
        contact,
        reason=entry.reason,
        channel=entry.channel.channel,
        factors=entry.reasons,
        sessions_left=contact.sessions_left,
        package_end_date=contact.package_end_date,
    )


def drafts_for_entries(entries: list[QueueEntry], *, use_ai: bool) -> dict[int, Draft]:
    """Drafts by contact id for the entries that have a channel to use; a lead with no channel
    left gets none, since there is nothing to send it through."""
    return drafts_for(
        {e.contact.pk: entry_draft_facts(e) for e in entries if e.channel.channel}, use_ai=use_ai
    )


# The contact's own columns an entry shows or its draft uses; `QueueRow.render_key` hashes them.
_ENTRY_FACT_COLUMNS = tuple(name for name in QUEUE_COLUMNS if "__" not in name)


@dataclass
class QueueRow:
    """One entry as the page shows it. Its template draft is written only when the entry is
    rendered, so an entry served from the fragment cache costs no draft."""

    entry: QueueEntry
    today: date  # the business day: a draft counts the days to a package's end

    @cached_property
    def draft(self) -> Draft | None:
        return drafts_for_entries([self.entry], use_ai=False).get(self.entry.contact.pk)

    @cached_property
    def render_key(self) -> str:
        """A digest of everything the rendered entry depends on: the contact's columns, its
        owner's name, and what was derived from them at this moment (priority, reasons, channel,
        days since contact). Equal keys render equal HTML, so the key needs no invalidation."""
        entry, contact = self.entry, self.entry.contact
        return fragment_key(
            [contact.__dict__.get(name) for name in _ENTRY_FACT_COLUMNS],
            contact.owner_id,
            (contact.owner.first_name, contact.owner.last_name) if contact.owner_id else None,
            entry.priority,
            entry.score,
            entry.reasons,
            entry.reason,
            entry.channel,
            entry.days_since_contact,
            entry.owner_recently_changed,
            self.today,
        )


class QueuePage:
    """Everything the queue page shows for the chosen owner (or every owner the user may see).
    Each part is computed when a template first uses it, so the page's self-refreshing fragments
    (cards, list, side panel) each pay only for what they show."""

    def __init__(self, *, user: User, filters: QueueFilters):
        self.user, self.filters = user, filters
        self.now = timeutils.now()
        self.queue = call_queue(user=user, filters=filters, now=self.now)

    @cached_property
    def rows(self) -> list[QueueRow]:
        """The entries, each with its template draft (AI drafts on request)."""
        today = timeutils.business_today(at=self.now)
        return [QueueRow(entry, today) for entry in self.queue.entries]

    @cached_property
    def contact_ids(self) -> list[int]:
        return [row.entry.contact.pk for row in self.rows]

    @cached_property
    def list_key(self) -> str:
        """The entries' render keys together: equal keys, equal list."""
        return fragment_key([row.render_key for row in self.rows])

    @cached_property
    def activity(self) -> ActivityToday:
        return activity_today(user=self.user, owner=self.filters.owner)

    @cached_property
    def pattern_alerts(self) -> list[Contact]:
        return pattern_break_alerts(user=self.user, owner=self.filters.owner)

    @cached_property
    def recent_assignments(self) -> list[RecentAssignment]:
        return recently_assigned(user=self.user, owner=self.filters.owner, now=self.now)

    @cached_property
    def owner_alerts(self) -> list[str]:
        if self.filters.owner is not None:
            owners = Owner.objects.filter(pk=self.filters.owner.pk)
        elif roles.is_manager(self.user):
            owners = Owner.objects.filter(is_active=True)
        else:
            owners = Owner.objects.none()
        return [r.alert for r in owner_rhythms(owners=owners, now=self.now) if r.alert]


def queue_page(*, user: User, filters: QueueFilters) -> QueuePage:
    return QueuePage(user=user, filters=filters)


def queue_entry_json(entry: QueueEntry, draft: Draft | None) -> dict:
    """One queue entry as the JSON API returns it (documented in crm.openapi)."""
    contact = entry.contact
    return {
        "id": contact.pk,
        "hubspot_id": contact.hubspot_id,
        "name": contact.full_name,
        "email": contact.email,
        "phone": contact.dialable_phone or None,
        "priority": entry.priority,
        "score": entry.score,
        "reason": entry.reason,
        "factors": entry.reasons,
        "draft_message": draft.text if draft else None,
        "draft_source": str(draft.source) if draft else None,
        "recommended_channel": entry.channel.channel or None,
        "channel_reason": entry.channel.why,
        "zone": contact.health_zone or None,
        "days_since_last_contact": entry.days_since_contact,
        "risk_score": contact.predictive_risk,
        "owner": {"id": contact.owner.pk, "name": str(contact.owner)} if contact.owner else None,
        "owner_recently_changed": entry.owner_recently_changed,
    }
