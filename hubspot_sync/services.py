"""HubSpot sync runs: full and incremental sync per object type, and webhook events (SPEC S5).

The sync loses nothing:

- A run holds its object type's lock by heartbeat (a lease renewed with every page and request,
  also through long rate-limit waits). A worker that is killed frees its type one lease later;
  the next run marks the dead run failed and resumes from the saved cursor. Ops may release a
  lock in the admin: the holder stops at its next heartbeat, before storing anything more.
- Each page is stored in its own transaction together with the cursor that says where to resume
  and the facts (call counts, last call...) of the contacts it touched, so a crash between two
  pages leaves neither a page half stored nor facts that disagree with the calls.
- A cursor never moves past a record that was not stored. A call, task or deal whose contact is
  not here yet has it read at once (batch read by id, archived too) and stored first; one whose
  contact HubSpot cannot give either is parked (ParkedRecord) in the page's transaction and read
  again by every later run of its type until it can be stored. A run that leaves records parked
  ends "incomplete", never "succeeded".
- "Succeeded" means complete: every change made in HubSpot before the run started is stored. A
  full sync that resumes after a failure catches up, by search, on what changed since its first
  attempt began; archiving changes no modified date and search never returns archived records,
  so every incremental run also reads the archived list and marks what is newly archived.

- Full sync reads the list endpoints (cursor paging, no 10,000 cap), active then archived
  records (contacts with their owner history either way); it is also how the first sync of a
  type runs.
- Incremental sync searches on the type's own modified-date property, ascending, from the saved
  cursor minus a small overlap. Search stops at 10,000 results a query, so a window that reaches
  the cap ends there; the records sharing its last timestamp are then read in a window pinned to
  that timestamp and paged by hs_object_id (which also works when more than a page, or more than
  10,000, records share one timestamp), and the next window starts just after it.
"""

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from calls.services import contact_facts_rebuild
from crm import timeutils
from hubspot_sync import mapping
from hubspot_sync.client import BATCH_READ_MAX, SEARCH_PAGE_MAX, SEARCH_RESULTS_MAX, HubSpotClient, Page
from hubspot_sync.models import (
    SYNC_ORDER,
    ObjectType,
    ParkedRecord,
    SyncCursor,
    SyncMode,
    SyncRun,
    SyncStatus,
    WebhookEvent,
)
from hubspot_sync.upserts import PREFETCHES, STORES, BatchResult, SyncContext
from leads.models import Contact, Deal, OwnerChangeSource, Task
from scoring.services import queue_scores_refresh

logger = logging.getLogger(__name__)

Progress = Callable[[int, int | None], None]  # (records just stored, total when known)

# How many parked ids the end-of-run log line names (the admin lists them all).
PARKED_SAMPLE = 10


class SyncLocked(Exception):
    """Another sync of this object type is running."""


class LockLost(Exception):
    """This run no longer holds its type's lock (ops released it, or its lease ran out and another
    run took it): it must store nothing more."""


@dataclass
class _Run:
    run: SyncRun
    ctx: SyncContext
    token: str
    progress: Progress | None
    beat_at: float = field(default_factory=time.monotonic)
    stats_before: tuple = ()
    parked_ids: set[str] = field(default_factory=set)


def sync_run(
    *,
    object_type: str,
    full: bool = False,
    client: HubSpotClient | None = None,
    progress: Progress | None = None,
) -> SyncRun:
    """Sync one object type from HubSpot and record the run. Raises SyncLocked when a sync of
    the type is already running. Idempotent: records are upserted by HubSpot id, so a second
    run over the same data counts every record as unchanged."""
    object_type = ObjectType(object_type)
    client = client or HubSpotClient()
    cursor = SyncCursor.objects.get_or_create(object_type=object_type)[0]
    # Owners have no modified-date search and are few: always read whole. A type never synced
    # starts with a full sync, and so does one whose full sync did not finish.
    if object_type == ObjectType.OWNERS or cursor.modified_after is None or cursor.full_started_at:
        full = True
    state = _run_start(object_type, SyncMode.FULL if full else SyncMode.INCREMENTAL, client, progress)
    state.run.cursor_from = cursor.modified_after
    try:
        if object_type == ObjectType.OWNERS:
            _owners_sync(state)
        elif full:
            _full_sync(state)
        else:
            _incremental_sync(state, since=cursor.modified_after)
        _parked_retry(state)
    except Exception as exc:  # recorded on the run for ops; the next run resumes from the cursor
        _run_failed(state, exc)
    # Anything that is not an Exception (the process is being killed) skips this on purpose: the
    # lease runs out by itself and the next run marks this one failed.
    _run_finish(state)
    return state.run


def sync_all(
    *, full: bool = False, object_types: list[str] | None = None, client=None, progress=None
) -> list[SyncRun]:
    """Sync the given types (all, owners first) one after another; a type whose sync is already
    running is left to that run (logged as a warning: its work is not lost, only not done here)."""
    runs = []
    for object_type in object_types or SYNC_ORDER:
        try:
            runs.append(sync_run(object_type=object_type, full=full, client=client, progress=progress))
        except SyncLocked as exc:
            logger.warning("hubspot.sync_locked", extra={"object_type": object_type, "reason": str(exc)})
    return runs


# --- a run's life: the lock, its heartbeat, the record -----------------------------------------
def _run_start(object_type: str, mode: str, client: HubSpotClient, progress: Progress | None) -> _Run:
    """Claim the type's lock, mark runs that died holding it failed, and record the new run."""
    token = _lock_claim(object_type)
    now = timeutils.now()
    run = SyncRun.objects.create(object_type=object_type, mode=mode, started_at=now, heartbeat_at=now)
    SyncCursor.objects.filter(object_type=object_type, locked_by=token).update(locked_run=run)
    source = OwnerChangeSource.WEBHOOK if mode == SyncMode.WEBHOOK else OwnerChangeSource.SYNC
    state = _Run(run, SyncContext(client, source=source), token, progress)
    state.stats_before = _stats(client)
    # The client beats before every request and through long waits, so a run stuck behind
    # HubSpot's rate limit keeps its lock, and a run whose lock was released stops.
    client.heartbeat = lambda: _heartbeat(state)
    return state


def _stats(client: HubSpotClient) -> tuple:
    stats = client.stats
    return stats.requests, stats.retries, stats.rate_limited, stats.waited_seconds


def _run_failed(state: _Run, exc: Exception) -> None:
    run = state.run
    logger.exception("hubspot.sync_failed", extra={"object_type": run.object_type, "run": run.pk})
    run.status = SyncStatus.FAILED
    run.last_error = str(exc)[:4000] or type(exc).__name__


def _run_finish(state: _Run) -> None:
    """Record how the run ended (with one summary line in the log) and release the lock."""
    run, client = state.run, state.ctx.client
    client.heartbeat = None
    run.parked = len(state.parked_ids)
    if run.status == SyncStatus.RUNNING:
        run.status = SyncStatus.INCOMPLETE if run.parked else SyncStatus.SUCCEEDED
    run.finished_at = timeutils.now()
    run.requests, run.retries, run.rate_limited, run.waited_seconds = (
        now - before for now, before in zip(_stats(client), state.stats_before, strict=True)
    )
    run.cursor_to = SyncCursor.objects.values_list("modified_after", flat=True).get(
        object_type=run.object_type
    )
    run.save()
    _lock_release(run.object_type, state.token)
    log = logger.info if run.status == SyncStatus.SUCCEEDED else logger.warning
    log(
        "hubspot.sync_finished",
        extra={
            "object_type": run.object_type,
            "mode": run.mode,
            "status": run.status,
            "run": run.pk,
            "pages": run.pages,
            # "created" is a LogRecord attribute of its own: the counts go in one mapping.
            "counts": {
                "created": run.created,
                "updated": run.updated,
                "unchanged": run.unchanged,
                "skipped": run.skipped,
                "parked": run.parked,
                "failed": run.failed,
                "parents_fetched": run.parents_fetched,
                "owner_changes": run.owner_changes,
            },
            "parked_sample": sorted(state.parked_ids, key=lambda i: (len(i), i))[:PARKED_SAMPLE],
            "error": run.last_error,
        },
    )


def _lock_claim(object_type: str) -> str:
    SyncCursor.objects.get_or_create(object_type=object_type)
    now = timeutils.now()
    # Who holds it, for ops deciding whether to release it: host, process, and a unique part.
    token = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:16]}"
    lease = timedelta(seconds=settings.HUBSPOT_SYNC_LOCK_LEASE_SECONDS)
    # A conditional UPDATE: of two workers claiming at once, exactly one matches the row.
    claimed = (
        SyncCursor.objects.filter(object_type=object_type)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=now + lease, locked_by=token, heartbeat_at=now, locked_run=None)
    )
    if not claimed:
        beat = SyncCursor.objects.values_list("heartbeat_at", flat=True).get(object_type=object_type)
        seen = f"last heartbeat {(now - beat).total_seconds():.0f} s ago" if beat else "no heartbeat yet"
        raise SyncLocked(f"a {object_type} sync is already running ({seen})")
    # We hold the lock, so any run of this type still marked running lost its worker.
    SyncRun.objects.filter(object_type=object_type, status=SyncStatus.RUNNING).update(
        status=SyncStatus.FAILED,
        finished_at=now,
        last_error=(
            f"Stopped without finishing (its worker died or its lock was released); a run at "
            f"{timezone.localtime(now):%Y-%m-%d %H:%M:%S} took over and resumed from the saved cursor."
        ),
    )
    return token


def _heartbeat(state: _Run) -> None:
    """Renew the lock's lease, at most a few times per lease; LockLost when it is no longer ours."""
    if time.monotonic() - state.beat_at < settings.HUBSPOT_SYNC_LOCK_LEASE_SECONDS / 6:
        return
    now = _lease_renew(state)
    SyncRun.objects.filter(pk=state.run.pk).update(heartbeat_at=now)


def _lease_renew(state: _Run, **cursor) -> datetime:
    """Push the lease ahead (and move the cursor, when given) only while the lock is this run's:
    a run that lost it gets LockLost, and inside a page's transaction rolls the page back instead
    of storing beside another run. Returns the heartbeat's time."""
    now = timeutils.now()
    lease = timedelta(seconds=settings.HUBSPOT_SYNC_LOCK_LEASE_SECONDS)
    object_type = state.run.object_type
    if not SyncCursor.objects.filter(object_type=object_type, locked_by=state.token).update(
        locked_until=now + lease, heartbeat_at=now, **cursor
    ):
        raise LockLost(f"this {object_type} sync lost its lock (released by ops, or its lease ran out)")
    state.beat_at = time.monotonic()
    return now


def _lock_release(object_type: str, token: str) -> None:
    SyncCursor.objects.filter(object_type=object_type, locked_by=token).update(
        locked_until=None, locked_by="", locked_run=None
    )


def sync_lock_release(*, object_type: str) -> bool:
    """Ops' release of a type's lock (the admin's action). A live holder notices at its next
    heartbeat and stops before storing anything more; a dead one's run is marked failed by the
    next run. Returns whether a lock was held."""
    return bool(
        SyncCursor.objects.filter(object_type=object_type)
        .exclude(locked_by="")
        .update(locked_until=None, locked_by="", locked_run=None)
    )


# --- storing a page ---------------------------------------------------------------------------
def _page_store(
    state: _Run,
    object_type: str,
    records: list[dict],
    *,
    cursor: dict | None = None,
    total=None,
    **prefetch_kwargs,
) -> BatchResult:
    """Store one page, the facts of the contacts it touched and the cursor, in one transaction.
    Records that cannot be stored yet are parked in the same transaction, so the cursor never
    moves past a record that is neither stored nor parked."""
    run = state.run
    try:
        # What the store needs from HubSpot is read first: a request inside the transaction would
        # hold its row locks (on contacts setters are updating) through round trips and back-offs.
        prefetched = PREFETCHES[object_type](state.ctx, records, **prefetch_kwargs)
        with transaction.atomic():
            result = STORES[object_type](state.ctx, records, prefetched)
            _facts_refresh(result.contact_ids, result.scored_ids)
            now = _lease_renew(state, **(cursor or {}))
    except Exception:
        run.failed += len(records)
        raise
    state.parked_ids |= set(result.parked)
    run.pages += 1
    for name in SyncRun.RECORD_COUNTS:
        if name != "parked":  # a record parked on several pages of a run counts once
            setattr(run, name, getattr(run, name) + getattr(result, name))
    run.parked = len(state.parked_ids)
    run.heartbeat_at = now
    run.save(update_fields=["pages", *SyncRun.RECORD_COUNTS, "heartbeat_at"])
    if state.progress:
        state.progress(len(records), total)
    return result


def _facts_refresh(fact_ids: set[int], scored_ids: set[int]) -> None:
    """Rebuild the facts of contacts whose calls, deals or tasks changed (which also refreshes
    their queue score), and refresh the score of contacts whose own fields changed."""
    if fact_ids:
        contact_facts_rebuild(contact_ids=sorted(fact_ids))
    if scored_ids - fact_ids:
        queue_scores_refresh(contact_ids=sorted(scored_ids - fact_ids))


# --- parked records ------------------------------------------------------------------------------
def _parked_retry(state: _Run) -> None:
    """Read this type's parked records again from HubSpot and store them (or park them again):
    their contact may exist by now, or an association may have been added (which does not change
    a record's modified date, so no search would bring it). Records HubSpot no longer has are
    dropped: there is nothing left to store."""
    object_type = state.run.object_type
    parked = list(
        ParkedRecord.objects.filter(object_type=object_type)
        .order_by("pk")
        .values_list("hubspot_id", flat=True)
    )
    client = state.ctx.client
    for start in range(0, len(parked), BATCH_READ_MAX):
        ids = parked[start : start + BATCH_READ_MAX]
        records = client.batch_read(object_type, ids, properties=mapping.PROPERTIES[object_type])
        gone = set(ids) - {str(r["id"]) for r in records}
        if gone:
            ParkedRecord.objects.filter(object_type=object_type, hubspot_id__in=gone).delete()
            logger.info("hubspot.parked_gone", extra={"object_type": object_type, "ids": sorted(gone)})
        if records:
            _page_store(state, object_type, records)


# --- owners ----------------------------------------------------------------------------------
def _owners_sync(state: _Run) -> None:
    client = state.ctx.client
    # Deactivated users' owners are only listed with archived=true; records still point at them.
    for archived in (False, True):
        for page in client.pages(
            lambda after, archived=archived: client.owners_page(after=after, archived=archived)
        ):
            _page_store(state, ObjectType.OWNERS, page.results)
    SyncCursor.objects.filter(object_type=ObjectType.OWNERS).update(last_full_at=timeutils.now())


# --- full sync ---------------------------------------------------------------------------------
def _full_sync(state: _Run) -> None:
    object_type = state.run.object_type
    client = state.ctx.client
    cursor = SyncCursor.objects.get(object_type=object_type)
    if cursor.full_started_at is None:
        cursor.full_started_at = state.run.started_at
        SyncCursor.objects.filter(pk=cursor.pk).update(full_started_at=cursor.full_started_at)
    # Calls have no archived flag here: a call deleted in HubSpot still happened.
    phases = [False] if object_type == ObjectType.CALLS else [False, True]
    phases = (
        phases[phases.index(cursor.full_archived_phase) :] if cursor.full_archived_phase in phases else phases
    )
    after = cursor.full_after or None
    for archived in phases:
        # Owner history for archived contacts too: their changes happened all the same.
        history = [mapping.OWNER_PROPERTY] if object_type == ObjectType.CONTACTS else []
        associations = [] if object_type == ObjectType.CONTACTS else ["contacts"]
        extra = {} if object_type == ObjectType.CONTACTS else {"inline_associations": True}
        while True:
            page = client.list_page(
                object_type,
                properties=mapping.PROPERTIES[object_type],
                after=after,
                archived=archived,
                associations=associations,
                properties_with_history=history,
            )
            after = page.next_after
            # Resume point: the next page of this phase, or the start of the next phase.
            resume = {"full_after": after or "", "full_archived_phase": archived if after else True}
            _page_store(state, object_type, page.results, cursor=resume, **extra)
            if not after:
                break
    # Every record modified before the full sync first started is stored as it is now or later:
    # incremental sync goes on from there.
    started = cursor.full_started_at
    SyncCursor.objects.filter(pk=cursor.pk).update(
        full_after="",
        full_archived_phase=False,
        full_started_at=None,
        last_full_at=timeutils.now(),
        modified_after=max(started, cursor.modified_after) if cursor.modified_after else started,
    )
    if started < state.run.started_at:
        # This run resumed a full sync that an earlier run began: pages read back then may have
        # changed since, and records may have been archived behind the resume point. Catch up by
        # search from the first start, so "succeeded" covers everything before this run began.
        _incremental_sync(state, since=started)


# --- incremental sync ----------------------------------------------------------------------------
def _incremental_sync(state: _Run, *, since: datetime) -> None:
    object_type = state.run.object_type
    prop = mapping.MODIFIED_PROPERTY[object_type]
    start = since - timedelta(seconds=settings.HUBSPOT_SYNC_OVERLAP_SECONDS)
    # An upper bound keeps the windows of this run fixed while HubSpot keeps changing.
    until = state.run.started_at
    while True:
        filters = [
            {"propertyName": prop, "operator": "GTE", "value": mapping.epoch_ms(start)},
            {"propertyName": prop, "operator": "LTE", "value": mapping.epoch_ms(until)},
        ]
        last_page = _search_window(state, filters, {"propertyName": prop, "direction": "ASCENDING"})
        if last_page is None:
            break  # the window ended before the cap: everything up to `until` is stored
        # The window hit the 10,000 cap. Records sharing its last timestamp may sit on both sides
        # of the cap: read them all, by id, then go on just after that timestamp.
        boundary = mapping.modified_at(object_type, last_page.results[-1])
        _same_moment_sync(state, prop, boundary)
        start = boundary + timedelta(milliseconds=1)
    _archived_sweep(state)
    SyncCursor.objects.filter(object_type=object_type, locked_by=state.token).update(modified_after=until)


def _search_window(state: _Run, filters: list[dict], sort: dict) -> Page | None:
    """Page through one search query, storing each page. Returns the last page when the query
    reached the 10,000-result cap (more may follow), None when it ended."""
    object_type = state.run.object_type
    client = state.ctx.client
    offset = 0
    while True:
        page = client.search_page(
            object_type, filters=filters, sort=sort, properties=mapping.PROPERTIES[object_type], after=offset
        )
        if not page.results:
            return None
        cursor = {}
        if sort["propertyName"] != "hs_object_id":
            # Sorted ascending: everything before this page's last timestamp is stored (records at
            # that very timestamp may continue on the next page, so resume at it, not after it).
            cursor["modified_after"] = mapping.modified_at(object_type, page.results[-1])
        _page_store(state, object_type, page.results, cursor=cursor, total=page.total)
        if not page.next_after:
            return None
        offset = int(page.next_after)
        if offset + SEARCH_PAGE_MAX > SEARCH_RESULTS_MAX:
            return page


def _same_moment_sync(state: _Run, prop: str, moment: datetime) -> None:
    """Every record modified at exactly `moment`, in hs_object_id order, restarting the query
    after the last id whenever it nears the cap."""
    last_id = "0"
    while True:
        filters = [
            {"propertyName": prop, "operator": "EQ", "value": mapping.epoch_ms(moment)},
            {"propertyName": "hs_object_id", "operator": "GT", "value": last_id},
        ]
        last_page = _search_window(state, filters, {"propertyName": "hs_object_id", "direction": "ASCENDING"})
        if last_page is None:
            return
        last_id = str(last_page.results[-1]["id"])


_ARCHIVABLE = {ObjectType.CONTACTS: Contact, ObjectType.DEALS: Deal, ObjectType.TASKS: Task}


def _archived_sweep(state: _Run) -> None:
    """Store what HubSpot archived that we do not hold as archived. Archiving changes no modified
    date and search never returns archived records, so only the archived list shows them: read
    whole each run (archived records are few, 100 a request), storing just the ones that differ
    (newly archived, or created and archived between two runs)."""
    object_type = state.run.object_type
    model = _ARCHIVABLE.get(object_type)
    if model is None:
        return  # calls: a call deleted in HubSpot still happened
    client = state.ctx.client
    associations = [] if object_type == ObjectType.CONTACTS else ["contacts"]
    extra = {} if object_type == ObjectType.CONTACTS else {"inline_associations": True}
    for page in client.pages(
        lambda after: client.list_page(
            object_type,
            properties=mapping.PROPERTIES[object_type],
            after=after,
            archived=True,
            associations=associations,
        )
    ):
        ids = [str(r["id"]) for r in page.results]
        settled = set(
            model.objects.filter(hubspot_id__in=ids, is_archived=True).values_list("hubspot_id", flat=True)
        )
        news = [r for r in page.results if str(r["id"]) not in settled]
        if news:
            _page_store(state, object_type, news, **extra)


# --- webhooks ------------------------------------------------------------------------------------
_TYPE_BY_PREFIX = {"contact": ObjectType.CONTACTS, "deal": ObjectType.DEALS}
# Generic webhook subscriptions name the object by its type id.
_TYPE_BY_OBJECT_TYPE_ID = {
    "0-1": ObjectType.CONTACTS,
    "0-3": ObjectType.DEALS,
    "0-48": ObjectType.CALLS,
    "0-27": ObjectType.TASKS,
}


_TYPE_BY_ASSOCIATION_WORD = {
    "CONTACT": ObjectType.CONTACTS,
    "DEAL": ObjectType.DEALS,
    "CALL": ObjectType.CALLS,
    "TASK": ObjectType.TASKS,
}


def webhook_target(event: dict) -> tuple[str, str]:
    """(object type, HubSpot id) of the record an event asks us to re-read. An association change
    names the record on the far side of the contact (CONTACT_TO_DEAL: the deal), since that
    record carries the link to its contact here."""
    kind = str(event.get("subscriptionType") or event.get("eventType") or "")
    prefix = kind.split(".", 1)[0]
    object_id = str(event.get("objectId") or "")
    if kind.endswith(".associationChange"):
        words = str(event.get("associationType") or "").split("_TO_")
        if len(words) == 2:
            sides = [
                (_TYPE_BY_ASSOCIATION_WORD.get(words[0], ""), str(event.get("fromObjectId") or object_id)),
                (_TYPE_BY_ASSOCIATION_WORD.get(words[1], ""), str(event.get("toObjectId") or object_id)),
            ]
            other = [side for side in sides if side[0] and side[0] != ObjectType.CONTACTS]
            if other:
                return other[0]
    if prefix == "object":
        return _TYPE_BY_OBJECT_TYPE_ID.get(str(event.get("objectTypeId", "")), ""), object_id
    return _TYPE_BY_PREFIX.get(prefix, ""), object_id


@dataclass(frozen=True)
class WebhookDelivery:
    new: int  # events stored for the first time
    rejected: list[str]  # why each unusable event was left out ("event 2: eventId is not a whole number")


@transaction.atomic
def webhook_events_store(*, events: list[object]) -> WebhookDelivery:
    """Store a delivery's events, each once however often HubSpot delivers it (dedup on
    subscriptionId, eventId, objectId, occurredAt). An event that cannot be stored (not an
    object, an id that is not a whole number, a date out of range) is left out and reported:
    it never costs the delivery's good events."""
    rows, rejected = {}, []
    for position, event in enumerate(events):
        try:
            key = mapping.webhook_event_key(event)
        except ValueError as exc:
            rejected.append(f"event {position}: {exc}")
            continue
        kind = str(event.get("subscriptionType") or event.get("eventType") or "")
        rows[key] = WebhookEvent(
            subscription_id=key.subscription_id,
            event_id=key.event_id,
            object_id=key.object_id,
            occurred_at=key.occurred_at,
            subscription_type=kind[:64],
            object_type=webhook_target(event)[0],
            property_name=str(event.get("propertyName") or "")[:100],
            payload=event,
        )
    if not rows:
        return WebhookDelivery(new=0, rejected=rejected)
    known = {
        mapping.WebhookEventKey(*values)
        for values in WebhookEvent.objects.filter(
            object_id__in={k.object_id for k in rows}, event_id__in={k.event_id for k in rows}
        ).values_list("subscription_id", "event_id", "object_id", "occurred_at")
    }
    new = [row for key, row in rows.items() if key not in known]
    WebhookEvent.objects.bulk_create(new, ignore_conflicts=True)
    return WebhookDelivery(new=len(new), rejected=rejected)


def webhook_events_process(*, client: HubSpotClient | None = None, limit: int = 1000) -> list[SyncRun]:
    """Apply pending webhook events: deletions mark records archived; every other event re-fetches
    its record (events carry no record, and arrive out of order: the current record is the truth).
    Events of a type whose sync is running stay pending for the next pass. Safe to run twice:
    an event is marked processed in the transaction that applies it."""
    client = client or HubSpotClient()
    pending = WebhookEvent.objects.filter(processed_at__isnull=True)
    pending.filter(object_type="").update(processed_at=timeutils.now(), error="not a synced object type")
    runs = []
    # Up to `limit` events of each type, oldest first: a backlog of one type (whose sync holds
    # its lock) never keeps the others waiting.
    for object_type in pending.order_by("object_type").values_list("object_type", flat=True).distinct():
        try:
            state = _run_start(object_type, SyncMode.WEBHOOK, client, None)
        except SyncLocked:
            continue
        events = list(pending.filter(object_type=object_type).order_by("received_at")[:limit])
        try:
            _webhook_apply(state, object_type, events)
        except Exception as exc:
            _run_failed(state, exc)
        _run_finish(state)
        runs.append(state.run)
    return runs


def _webhook_apply(state: _Run, object_type: str, events: list[WebhookEvent]) -> None:
    deleted, refetch = set(), set()
    for event in events:
        kind = event.subscription_type.rsplit(".", 1)[-1]
        target = webhook_target(event.payload)[1]
        if kind in ("deletion", "privacyDeletion"):
            deleted.add(target)
        elif kind == "merge":
            refetch.add(str(event.payload.get("primaryObjectId") or target))
        else:
            refetch.add(target)
    # A record deleted and then restored has both events: the re-fetch decides.
    deleted -= refetch
    with transaction.atomic():
        model = _ARCHIVABLE.get(object_type)
        if deleted and model is not None:
            ids = model.objects.filter(hubspot_id__in=deleted).exclude(is_archived=True)
            contact_ids = set(ids.values_list("pk" if model is Contact else "contact_id", flat=True)) - {None}
            ids.update(is_archived=True)
            if contact_ids:
                contact_facts_rebuild(contact_ids=sorted(contact_ids))
        WebhookEvent.objects.filter(
            pk__in=[e.pk for e in events if webhook_target(e.payload)[1] in deleted]
        ).update(processed_at=timeutils.now())
    if refetch:
        history = [mapping.OWNER_PROPERTY] if object_type == ObjectType.CONTACTS else []
        records = state.ctx.client.batch_read(
            object_type,
            sorted(refetch),
            properties=mapping.PROPERTIES[object_type],
            properties_with_history=history,
        )
        _page_store(state, object_type, records)
    WebhookEvent.objects.filter(pk__in=[e.pk for e in events], processed_at__isnull=True).update(
        processed_at=timezone.now()
    )
