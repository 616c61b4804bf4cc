"""Writes for calls: logging a call and keeping each contact's call facts current."""

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, Count, F, Max, Min, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, Greatest, TruncDate
from django.utils import timezone

from calls.models import CallOutcome, CallRecord, CallSource, CallStatus, Channel, Direction, QueueState
from crm import timeutils
from leads.models import OPEN_TASK_STATUSES, Contact, Deal, Owner, PatternStatus, Task
from scoring.services import queue_scores_refresh

NOTE_EXCERPT_LENGTH = Contact._meta.get_field("last_call_note").max_length


def note_excerpt(notes: str) -> str:
    text = " ".join(notes.split())
    limit = NOTE_EXCERPT_LENGTH
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _newer(field: str, moment: datetime) -> Q:
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lt": moment})


@transaction.atomic
def call_log(
    *,
    contact: Contact,
    owner: Owner | None,
    status: str,
    outcome: str = "",
    note: str = "",
    channel: str = Channel.PHONE,
    direction: str = Direction.OUTBOUND,
    started_at: datetime | None = None,
    duration_seconds: int = 0,
    source: str = CallSource.MANUAL,
    external_id: str = "",
) -> CallRecord:
    """Record one call and fold it into the contact's facts in the same transaction.

    Idempotent for calls with an external id: the same (source, external_id) returns the stored
    record and changes nothing. The facts update is one conditional UPDATE, so two setters
    logging calls on one contact at once cannot lose a count, and a call that arrives late
    (older than the last one) updates the counts but not "last call".
    """
    started_at = started_at or timeutils.now()
    if external_id:
        existing = CallRecord.objects.filter(source=source, external_id=external_id).first()
        if existing is not None:
            return existing
    call = CallRecord.objects.create(
        contact=contact,
        owner=owner,
        status=status,
        outcome=outcome,
        notes=note,
        channel=channel,
        direction=direction,
        started_at=started_at,
        duration_seconds=duration_seconds,
        source=source,
        external_id=external_id,
    )
    newer = _newer("last_call_at", started_at)
    answered = status == CallStatus.ANSWERED
    updates = {
        "call_count": F("call_count") + 1,
        "outgoing_call_count": F("outgoing_call_count") + int(direction == Direction.OUTBOUND),
        "answered_call_count": F("answered_call_count") + int(answered),
        "booking_count": F("booking_count") + int(outcome == CallOutcome.BOOKED),
        "last_call_status": Case(When(newer, then=Value(status)), default=F("last_call_status")),
        "last_call_outcome": Case(When(newer, then=Value(outcome)), default=F("last_call_outcome")),
        "last_call_note": Case(When(newer, then=Value(note_excerpt(note))), default=F("last_call_note")),
        # SQL evaluates every SET expression against the old row, so the conditions above all
        # compare with the previous last_call_at.
        "last_call_at": Case(When(newer, then=Value(started_at)), default=F("last_call_at")),
        "last_activity_at": Case(
            When(_newer("last_activity_at", started_at), then=Value(started_at)),
            default=F("last_activity_at"),
        ),
    }
    if answered:
        updates["last_reached_at"] = Case(
            When(_newer("last_reached_at", started_at), then=Value(started_at)), default=F("last_reached_at")
        )
    Contact.objects.filter(pk=contact.pk).update(**updates)
    queue_scores_refresh([contact.pk])
    return call


def contact_facts_rebuild(
    *, contact_ids: Iterable[int] | None = None, batch_size: int = 5000, progress=None
) -> int:
    """Recompute contacts' facts from the source rows (all contacts when ids is None): call facts
    from the call records, the next open task's due time, the largest open deal.

    Set-based per batch of contacts: a few aggregate queries, one latest-call lookup, one write
    of the changed rows. Safe to re-run: it only writes what the source rows say. Each batch
    commits on its own so a rebuild of 200,000 contacts never holds one huge transaction.
    Returns the number of contacts rebuilt.
    """
    ids_query = Contact.objects.order_by("pk").values_list("pk", flat=True)
    all_ids = list(contact_ids) if contact_ids is not None else list(ids_query)
    done = 0
    for start in range(0, len(all_ids), batch_size):
        batch = all_ids[start : start + batch_size]
        with transaction.atomic():
            _rebuild_batch(batch)
            queue_scores_refresh(batch)
        done += len(batch)
        if progress is not None:
            progress(len(batch))
    return done


# The Contact columns contact_facts_rebuild derives from calls, tasks and deals.
CONTACT_FACT_FIELDS = [
    "call_count",
    "outgoing_call_count",
    "answered_call_count",
    "booking_count",
    "last_call_at",
    "last_reached_at",
    "last_call_status",
    "last_call_outcome",
    "last_call_note",
    "last_activity_at",
    "next_task_due_at",
    "open_deal_amount",
]


def _rebuild_batch(batch: list[int]) -> None:
    totals = {
        row["contact_id"]: row
        for row in CallRecord.objects.filter(contact_id__in=batch)
        .values("contact_id")
        .annotate(
            calls=Count("id"),
            outgoing=Count("id", filter=Q(direction=Direction.OUTBOUND)),
            answered=Count("id", filter=Q(status=CallStatus.ANSWERED)),
            bookings=Count("id", filter=Q(outcome=CallOutcome.BOOKED)),
            last_reached=Max("started_at", filter=Q(status=CallStatus.ANSWERED)),
        )
        .order_by()
    }
    next_task_due = dict(
        Task.objects.filter(contact_id__in=batch, status__in=OPEN_TASK_STATUSES, is_archived=False)
        .values("contact_id")
        .annotate(due=Min("due_at"))
        .order_by()
        .values_list("contact_id", "due")
    )
    open_deal_amount = dict(
        Deal.objects.filter(contact_id__in=batch, is_closed=False, is_archived=False)
        .values("contact_id")
        .annotate(amount=Max("amount"))
        .order_by()
        .values_list("contact_id", "amount")
    )
    latest_call = (
        CallRecord.objects.filter(contact=OuterRef("pk")).order_by("-started_at", "-id").values("id")[:1]
    )
    latest_deal_change = (
        Deal.objects.filter(contact=OuterRef("pk"))
        .annotate(changed=Greatest(Coalesce("hs_updated_at", "updated_at"), "updated_at"))
        .order_by("-changed")
        .values("changed")[:1]
    )
    contacts = list(
        Contact.objects.filter(pk__in=batch)
        .annotate(latest_call_id=Subquery(latest_call), latest_deal_change=Subquery(latest_deal_change))
        .only("pk", *CONTACT_FACT_FIELDS)
    )
    latest_calls = CallRecord.objects.in_bulk(
        [c.latest_call_id for c in contacts if c.latest_call_id is not None]
    )
    for contact in contacts:
        total = totals.get(contact.pk, {})
        call = latest_calls.get(contact.latest_call_id)
        contact.call_count = total.get("calls", 0)
        contact.outgoing_call_count = total.get("outgoing", 0)
        contact.answered_call_count = total.get("answered", 0)
        contact.booking_count = total.get("bookings", 0)
        contact.last_reached_at = total.get("last_reached")
        contact.last_call_at = call.started_at if call else None
        contact.last_call_status = call.status if call else ""
        contact.last_call_outcome = call.outcome if call else ""
        contact.last_call_note = note_excerpt(call.notes) if call else ""
        contact.last_activity_at = last_activity(contact, contact.latest_deal_change)
        contact.next_task_due_at = next_task_due.get(contact.pk)
        contact.open_deal_amount = open_deal_amount.get(contact.pk)
    _write_facts(contacts)


def _write_facts(contacts: list[Contact]) -> None:
    """Write the batch's facts back. On PostgreSQL one UPDATE ... FROM unnest(arrays) for the
    batch, skipping rows whose facts are unchanged: Django's bulk_update writes a CASE WHEN per
    row and field, which took 96% of a full rebuild (463 s against 38 s at 200,000 contacts)."""
    if connection.vendor != "postgresql":
        Contact.objects.bulk_update(contacts, CONTACT_FACT_FIELDS, batch_size=1000)
        return
    fields = [Contact._meta.get_field(name) for name in CONTACT_FACT_FIELDS]
    qn = connection.ops.quote_name
    table = qn(Contact._meta.db_table)
    columns = [qn(f.column) for f in fields]
    unnest = ", ".join(
        f"unnest(%s::{f.db_type(connection)}[]) AS {c}" for f, c in zip(fields, columns, strict=True)
    )
    current = ", ".join(f"{table}.{c}" for c in columns)
    incoming = ", ".join(f"v.{c}" for c in columns)
    sql = (
        f"UPDATE {table} SET {', '.join(f'{c} = v.{c}' for c in columns)} "
        f"FROM (SELECT unnest(%s::bigint[]) AS id, {unnest}) AS v "
        f"WHERE {table}.id = v.id AND ({current}) IS DISTINCT FROM ({incoming})"
    )
    params = [[c.pk for c in contacts]] + [[getattr(c, f.attname) for c in contacts] for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def last_activity(contact: Contact, latest_deal_change: datetime | None) -> datetime | None:
    """Latest of the last call and the last deal change; None when neither happened.

    HubSpot property edits do not count (a marketing workflow touching a contact is not contact),
    and readers fall back to the creation time for "days since contact" of a contact never worked.
    """
    moments = [contact.last_call_at, latest_deal_change]
    return max((m for m in moments if m is not None), default=None)


# Calls that did not reach the lead: it comes back after the retry wait, with this reason.
_AFTER_MISSED_CALL = {
    CallStatus.NO_ANSWER: "No answer: try again later",
    CallStatus.BUSY: "Busy: try again later",
    CallStatus.VOICEMAIL: "Voicemail left: WhatsApp next",
    CallStatus.FAILED: "Call failed: try again later",
}


@transaction.atomic
def queue_mark_called(
    *,
    contact: Contact,
    owner: Owner | None,
    status: str,
    outcome: str = "",
    note: str = "",
    channel: str = Channel.PHONE,
    callback_at: datetime | None = None,
) -> CallRecord:
    """Log a call from the queue and schedule the lead's next step.

    A requested callback snoozes the lead to the time asked for; a call nobody answered puts
    the lead back after QUEUE_RETRY_AFTER_HOURS (a voicemail makes WhatsApp the next channel,
    by the channel rules); an answered call clears any snooze.
    """
    # The next step is written first, so logging the call re-scores the lead once, snooze included.
    started_at = timeutils.now()
    if outcome == CallOutcome.CALLBACK_REQUESTED and callback_at is not None:
        _snooze_write(
            contact=contact, until=callback_at, reason=f"Callback requested for {callback_at:%d %b %H:%M}"
        )
    elif status in _AFTER_MISSED_CALL:
        retry_at = started_at + timedelta(hours=settings.QUEUE_RETRY_AFTER_HOURS)
        _snooze_write(contact=contact, until=retry_at, reason=_AFTER_MISSED_CALL[status])
    else:
        QueueState.objects.filter(contact=contact).update(snoozed_until=None, snooze_reason="")
    return call_log(
        contact=contact,
        owner=owner,
        status=status,
        outcome=outcome,
        note=note,
        channel=channel,
        started_at=started_at,
    )


@transaction.atomic
def queue_snooze(*, contact: Contact, until: datetime, reason: str = "") -> QueueState:
    """Keep the contact out of the queue until `until` (replacing any earlier snooze)."""
    state = _snooze_write(contact=contact, until=until, reason=reason)
    queue_scores_refresh([contact.pk])
    return state


def _snooze_write(*, contact: Contact, until: datetime, reason: str) -> QueueState:
    state, _ = QueueState.objects.update_or_create(
        contact=contact, defaults={"snoozed_until": until, "snooze_reason": reason[:150]}
    )
    return state


@dataclass(frozen=True)
class PatternBreakResult:
    breaks: int
    on_track: int
    no_pattern: int
    changed: int


# The current week (the last 7 days) against the 4 weeks before it.
PATTERN_CURRENT = timedelta(days=7)
PATTERN_WINDOW = timedelta(days=35)
PATTERN_USUAL_WEEKS = (PATTERN_WINDOW - PATTERN_CURRENT) / timedelta(weeks=1)
# A rhythm needs at least this many calls in the 4 weeks before the current week...
PATTERN_MIN_CALLS = 4
# ...and history going back at least this far, so a lead first called last week has no "usual".
PATTERN_MIN_HISTORY = timedelta(days=21)
PATTERN_BREAK_RATIO = 0.5
_STATUS_CHUNK = 5000


def pattern_breaks_detect(*, now: datetime | None = None) -> PatternBreakResult:
    """Mark each contact's call rhythm: PATTERN_BREAK when its calls in the last 7 days fall below
    half its usual weekly rate over the 28 days before; ON_TRACK when not; NO_PATTERN when it has
    too little history to have a rhythm.

    Set-based: one aggregate over the calls of the last 35 days, then chunked UPDATEs of only the
    contacts whose status changes. A deterministic recompute, safe to run twice.
    """
    now = now or timeutils.now()
    week_start, window_start = now - PATTERN_CURRENT, now - PATTERN_WINDOW
    rows = (
        CallRecord.objects.filter(started_at__gte=window_start, started_at__lt=now)
        .values("contact_id")
        .annotate(
            usual=Count("id", filter=Q(started_at__lt=week_start)),
            current=Count("id", filter=Q(started_at__gte=week_start)),
            first=Min("started_at"),
        )
        .order_by()
        .values_list("contact_id", "usual", "current", "first")
    )
    by_status: dict[str, list[int]] = {PatternStatus.PATTERN_BREAK: [], PatternStatus.ON_TRACK: []}
    for contact_id, usual, current, first in rows.iterator(chunk_size=10_000):
        if usual < PATTERN_MIN_CALLS or first > now - PATTERN_MIN_HISTORY:
            continue  # no rhythm: handled below with everyone else
        weekly = usual / PATTERN_USUAL_WEEKS
        status = (
            PatternStatus.PATTERN_BREAK if current < PATTERN_BREAK_RATIO * weekly else PatternStatus.ON_TRACK
        )
        by_status[status].append(contact_id)
    changed = 0
    with transaction.atomic():
        for status, ids in by_status.items():
            for chunk in _chunks(ids):
                changed += (
                    Contact.objects.filter(pk__in=chunk)
                    .exclude(pattern_status=status)
                    .update(pattern_status=status)
                )
        rhythmic = by_status[PatternStatus.PATTERN_BREAK] + by_status[PatternStatus.ON_TRACK]
        stale = Contact.objects.exclude(pattern_status__in=["", PatternStatus.NO_PATTERN])
        stale_ids = set(stale.values_list("pk", flat=True)) - set(rhythmic)
        for chunk in _chunks(sorted(stale_ids)):
            changed += Contact.objects.filter(pk__in=chunk).update(pattern_status=PatternStatus.NO_PATTERN)
        if changed:
            queue_scores_refresh(now=now)  # "pattern break" is a priority factor
    no_pattern = Contact.objects.filter(pattern_status=PatternStatus.NO_PATTERN).count()
    return PatternBreakResult(
        breaks=len(by_status[PatternStatus.PATTERN_BREAK]),
        on_track=len(by_status[PatternStatus.ON_TRACK]),
        no_pattern=no_pattern,
        changed=changed,
    )


def _chunks(ids: list[int]):
    for start in range(0, len(ids), _STATUS_CHUNK):
        yield ids[start : start + _STATUS_CHUNK]


# A weekday is "usual" for an owner who called on it in at least this many of the last 4 weeks.
USUAL_DAY_MIN_WEEKS = 3


def owner_rhythms_refresh(*, now: datetime | None = None) -> int:
    """Store each owner's usual calling weekdays (called on in 3 of the last 4 weeks).

    One query over the last 28 days of calls (distinct owner and business day), then one bulk
    update; a deterministic recompute, safe to run twice. Returns how many owners changed.
    """
    now = now or timeutils.now()
    window_start = timeutils.start_of_day(timezone.localdate(now) - timedelta(days=28))
    calling_days = (
        CallRecord.objects.filter(owner__isnull=False, started_at__gte=window_start, started_at__lt=now)
        .annotate(day=TruncDate("started_at"))
        .values_list("owner_id", "day")
        .order_by()  # CallRecord's default ordering would make DISTINCT keep every call
        .distinct()
    )
    weeks: dict[int, Counter] = defaultdict(Counter)
    for owner_id, day in calling_days:
        weeks[owner_id][day.isoweekday()] += 1
    changed = []
    for owner in Owner.objects.only("id", "usual_call_weekdays"):
        usual = sorted(d for d, n in weeks[owner.pk].items() if n >= USUAL_DAY_MIN_WEEKS)
        if usual != owner.usual_call_weekdays:
            owner.usual_call_weekdays = usual
            changed.append(owner)
    Owner.objects.bulk_update(changed, ["usual_call_weekdays"])
    return len(changed)
