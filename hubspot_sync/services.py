"""HubSpot sync runs: full and incremental sync per object type, and webhook events (SPEC S5).

A run claims its object type's lock (one sync of a type at a time; the lock expires so a killed
worker cannot block it for good), reads pages from HubSpot and stores each page in its own
transaction together with the cursor that says where to resume, then rebuilds the facts of the
contacts the page touched. A page that fails ends the run as failed with its error; what was
stored before it stays, and the next run starts from the saved cursor.

- Full sync reads the list endpoints (cursor paging, no 10,000 cap), active then archived
  records, so archived ones are marked archived; it is also how the first sync of a type runs.
- Incremental sync searches on the type's own modified-date property, ascending, from the saved
  cursor minus a small overlap. Search stops at 10,000 results a query, so a window that reaches
  the cap ends there; the records sharing its last timestamp are then read in a window pinned to
  that timestamp and paged by hs_object_id (which also works when more than a page, or more than
  10,000, records share one timestamp), and the next window starts just after it.
"""

import logging
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
from hubspot_sync.client import SEARCH_PAGE_MAX, SEARCH_RESULTS_MAX, HubSpotClient, Page
from hubspot_sync.models import (
    SYNC_ORDER,
    ObjectType,
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

# A run renews its lock with every page; a worker that dies frees its type after this long.
LOCK_SECONDS = 15 * 60

Progress = Callable[[int, int | None], None]  # (records just stored, total when known)


class SyncLocked(Exception):
    """Another sync of this object type is running."""


# A full sync rebuilds contacts' facts in batches this big instead of after every page: per page,
# the rebuild and score refresh cost more than storing the records.
DEFERRED_FACTS_BATCH = 5000


@dataclass
class _Run:
    run: SyncRun
    ctx: SyncContext
    token: str
    progress: Progress | None
    deferred_facts: bool = False
    pending_facts: set[int] = field(default_factory=set)
    pending_scores: set[int] = field(default_factory=set)


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
    token = _lock_claim(object_type)
    client = client or HubSpotClient()
    cursor = SyncCursor.objects.get(object_type=object_type)
    # Owners have no modified-date search and are few: always read whole. A type never synced
    # starts with a full sync, and so does one whose full sync did not finish.
    if object_type == ObjectType.OWNERS or cursor.modified_after is None or cursor.full_started_at:
        full = True
    run = SyncRun.objects.create(
        object_type=object_type,
        mode=SyncMode.FULL if full else SyncMode.INCREMENTAL,
        started_at=timeutils.now(),
        cursor_from=cursor.modified_after,
    )
    state = _Run(run, SyncContext(client), token, progress, deferred_facts=full)
    requests_before, retries_before = client.stats.requests, client.stats.retries
    try:
        if object_type == ObjectType.OWNERS:
            _owners_sync(state)
        elif full:
            _full_sync(state, cursor)
        else:
            _incremental_sync(state, cursor)
        run.status = SyncStatus.SUCCEEDED
    except Exception as exc:  # recorded on the run for ops; the next run resumes from the cursor
        logger.exception("hubspot.sync_failed", extra={"object_type": object_type, "run": run.pk})
        run.status = SyncStatus.FAILED
        run.last_error = str(exc)[:4000]
    finally:
        try:
            _facts_flush(state)  # what was stored, failed run or not, gets its facts
        except Exception as exc:
            logger.exception("hubspot.facts_failed", extra={"object_type": object_type, "run": run.pk})
            run.status, run.last_error = SyncStatus.FAILED, (run.last_error or str(exc))[:4000]
        run.finished_at = timeutils.now()
        run.requests = client.stats.requests - requests_before
        run.retries = client.stats.retries - retries_before
        run.cursor_to = SyncCursor.objects.values_list("modified_after", flat=True).get(
            object_type=object_type
        )
        run.save()
        _lock_release(object_type, token)
    return run


def sync_all(
    *, full: bool = False, object_types: list[str] | None = None, client=None, progress=None
) -> list[SyncRun]:
    """Sync the given types (all, owners first) one after another; a type whose sync is already
    running is left to that run."""
    runs = []
    for object_type in object_types or SYNC_ORDER:
        try:
            runs.append(sync_run(object_type=object_type, full=full, client=client, progress=progress))
        except SyncLocked:
            logger.info("hubspot.sync_locked", extra={"object_type": object_type})
    return runs


# --- the lock ---------------------------------------------------------------------------------
def _lock_claim(object_type: str) -> str:
    SyncCursor.objects.get_or_create(object_type=object_type)
    now, token = timeutils.now(), uuid.uuid4().hex
    # A conditional UPDATE: of two workers claiming at once, exactly one matches the row.
    claimed = (
        SyncCursor.objects.filter(object_type=object_type)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .update(locked_until=now + timedelta(seconds=LOCK_SECONDS), locked_by=token)
    )
    if not claimed:
        raise SyncLocked(f"a {object_type} sync is already running")
    return token


def _lock_release(object_type: str, token: str) -> None:
    SyncCursor.objects.filter(object_type=object_type, locked_by=token).update(
        locked_until=None, locked_by=""
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
    """Store one page and move the cursor, in one transaction. Incremental pages rebuild the
    touched contacts' facts in it too, so the pages never show a call without its count; a full
    sync rebuilds them in large batches as it goes and at its end."""
    run = state.run
    try:
        # What the store needs from HubSpot is read first: a request inside the transaction would
        # hold its row locks (on contacts setters are updating) through round trips and back-offs.
        prefetched = PREFETCHES[object_type](state.ctx, records, **prefetch_kwargs)
        with transaction.atomic():
            result = STORES[object_type](state.ctx, records, prefetched)
            if state.deferred_facts:
                state.pending_facts |= result.contact_ids
                state.pending_scores |= result.scored_ids
            else:
                _facts_refresh(result.contact_ids, result.scored_ids)
            SyncCursor.objects.filter(object_type=object_type, locked_by=state.token).update(
                locked_until=timeutils.now() + timedelta(seconds=LOCK_SECONDS), **(cursor or {})
            )
    except Exception:
        run.failed += len(records)
        raise
    run.pages += 1
    run.created += result.created
    run.updated += result.updated
    run.unchanged += result.unchanged
    run.skipped += result.skipped
    run.owner_changes += result.owner_changes
    run.save(update_fields=["pages", "created", "updated", "unchanged", "skipped", "owner_changes"])
    if state.progress:
        state.progress(len(records), total)
    if len(state.pending_facts) + len(state.pending_scores) >= DEFERRED_FACTS_BATCH:
        _facts_flush(state)
    return result


def _facts_refresh(fact_ids: set[int], scored_ids: set[int]) -> None:
    """Rebuild the facts of contacts whose calls, deals or tasks changed (which also refreshes
    their queue score), and refresh the score of contacts whose own fields changed."""
    if fact_ids:
        contact_facts_rebuild(contact_ids=sorted(fact_ids))
    if scored_ids - fact_ids:
        queue_scores_refresh(contact_ids=sorted(scored_ids - fact_ids))


def _facts_flush(state: _Run) -> None:
    facts, scores = state.pending_facts, state.pending_scores
    state.pending_facts, state.pending_scores = set(), set()
    _facts_refresh(facts, scores)


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
def _full_sync(state: _Run, cursor: SyncCursor) -> None:
    object_type = state.run.object_type
    client = state.ctx.client
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
        history = [mapping.OWNER_PROPERTY] if object_type == ObjectType.CONTACTS and not archived else []
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
    # Everything modified before the full sync started is stored: incremental sync goes on from there.
    started = cursor.full_started_at
    SyncCursor.objects.filter(pk=cursor.pk).update(
        full_after="",
        full_archived_phase=False,
        full_started_at=None,
        last_full_at=timeutils.now(),
        modified_after=max(started, cursor.modified_after) if cursor.modified_after else started,
    )


# --- incremental sync ----------------------------------------------------------------------------
def _incremental_sync(state: _Run, cursor: SyncCursor) -> None:
    object_type = state.run.object_type
    prop = mapping.MODIFIED_PROPERTY[object_type]
    start = cursor.modified_after - timedelta(seconds=settings.HUBSPOT_SYNC_OVERLAP_SECONDS)
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


@transaction.atomic
def webhook_events_store(*, events: list[dict]) -> int:
    """Store a delivery's events, each once however often HubSpot delivers it (dedup on
    subscriptionId, eventId, objectId, occurredAt). Returns how many were new."""
    rows = {}
    for event in events:
        occurred = mapping.moment(event.get("occurredAt"))
        kind = str(event.get("subscriptionType") or event.get("eventType") or "")
        if occurred is None or event.get("objectId") in (None, ""):
            continue
        key = (
            int(event.get("subscriptionId") or 0),
            int(event.get("eventId") or 0),
            str(event["objectId"]),
            occurred,
        )
        rows[key] = WebhookEvent(
            subscription_id=key[0],
            event_id=key[1],
            object_id=key[2],
            occurred_at=occurred,
            subscription_type=kind[:64],
            object_type=webhook_target(event)[0],
            property_name=str(event.get("propertyName") or "")[:100],
            payload=event,
        )
    if not rows:
        return 0
    known = set(
        WebhookEvent.objects.filter(
            object_id__in={k[2] for k in rows}, event_id__in={k[1] for k in rows}
        ).values_list("subscription_id", "event_id", "object_id", "occurred_at")
    )
    new = [row for key, row in rows.items() if key not in known]
    WebhookEvent.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


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
            token = _lock_claim(object_type)
        except SyncLocked:
            continue
        events = list(pending.filter(object_type=object_type).order_by("received_at")[:limit])
        run = SyncRun.objects.create(
            object_type=object_type, mode=SyncMode.WEBHOOK, started_at=timeutils.now()
        )
        state = _Run(run, SyncContext(client, source=OwnerChangeSource.WEBHOOK), token, None)
        requests_before, retries_before = client.stats.requests, client.stats.retries
        try:
            _webhook_apply(state, object_type, events)
            run.status = SyncStatus.SUCCEEDED
        except Exception as exc:
            logger.exception("hubspot.webhook_failed", extra={"object_type": object_type})
            run.status, run.last_error = SyncStatus.FAILED, str(exc)[:4000]
        finally:
            run.finished_at = timeutils.now()
            run.requests = client.stats.requests - requests_before
            run.retries = client.stats.retries - retries_before
            run.save()
            _lock_release(object_type, token)
        runs.append(run)
    return runs


_ARCHIVABLE = {ObjectType.CONTACTS: Contact, ObjectType.DEALS: Deal, ObjectType.TASKS: Task}


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
