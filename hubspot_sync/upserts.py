"""Storing one page of HubSpot records: batch upserts keyed by HubSpot id.

Each `*_store` takes a page of records (up to a few hundred), reads what we already have in one
query, and writes only what differs: bulk_create for new rows, bulk_update of the changed
fields for the rest. Storing the same page twice therefore changes nothing the second time
(counted as unchanged). The caller runs each page in one transaction and rebuilds the facts of
the contacts it touched (`BatchResult.contact_ids`) in it.

What a store needs from HubSpot besides the page (owner histories, associations, deal stages,
call outcome labels, and the contacts its calls, deals and tasks point at that are not stored
yet) its `*_prefetch` reads first, outside that transaction: the stores themselves touch only
the database, so no transaction stays open over a network round trip or a 429 back-off while
setters wait on the rows it locked.

Nothing on a page is dropped: a record that cannot be stored yet (its contact is nowhere to be
had) is parked (`ParkedRecord`) by its store, in the page's transaction, and storing it later by
any path removes it from there.
"""

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any

from django.conf import settings

from calls.models import (
    OPEN_INTERVENTION_STATUSES,
    CallRecord,
    CallSource,
    Intervention,
    InterventionType,
    ScheduledCall,
)
from crm import timeutils
from hubspot_sync import mapping
from hubspot_sync.client import HubSpotClient
from hubspot_sync.models import ParkedRecord
from leads.models import Contact, Deal, Owner, OwnerChange, OwnerChangeSource, Task
from leads.services import contact_set_phones
from scoring.figures import follow_up_figures_forget

logger = logging.getLogger(__name__)

# A HubSpot call this close in time to a call logged here (same contact and direction) is that
# call coming back from HubSpot, not a second call.
SAME_CALL_WINDOW = timedelta(minutes=2)


@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0  # HubSpot copies of calls logged here
    parents_fetched: int = 0
    owner_changes: int = 0
    parked: list[str] = field(default_factory=list)  # HubSpot ids of records parked
    # Contacts whose facts (calls, deals, tasks) changed, and contacts whose own fields changed
    # (their queue score may move; their facts did not).
    contact_ids: set[int] = field(default_factory=set)
    scored_ids: set[int] = field(default_factory=set)


@dataclass
class Prefetched:
    """What storing one page needs from HubSpot besides its records, read before the page's
    transaction opens."""

    # contacts: HubSpot id -> the record with its hubspot_owner_id history, for the contacts new
    # here and those whose owner differed from ours when the page was read
    owner_histories: dict[str, dict] = field(default_factory=dict)
    # deals, calls, tasks: HubSpot id -> the HubSpot ids of its contacts
    hubspot_contacts: dict[str, list[str]] = field(default_factory=dict)
    # deals, calls, tasks: the contacts they point at that are not stored here yet, read by id
    # (with owner history) to be stored first
    parents: list[dict] = field(default_factory=list)
    stages: dict[tuple[str, str], mapping.Stage] = field(default_factory=dict)  # deals
    dispositions: dict[str, str] = field(default_factory=dict)  # calls


class SyncContext:
    """What one run needs besides the records: the client, lookups fetched once per run
    (deal stages, call outcome labels; first read by a prefetch, outside any transaction), the
    owner id cache and how owner changes are labelled."""

    def __init__(self, client: HubSpotClient, *, source: str = OwnerChangeSource.SYNC) -> None:
        self.client = client
        self.source = source
        self._owner_pks: dict[str, int] = {}

    @cached_property
    def stages(self) -> dict[tuple[str, str], mapping.Stage]:
        return mapping.stages_from_pipelines(self.client.pipelines("deals"))

    @cached_property
    def dispositions(self) -> dict[str, str]:
        labels = dict(mapping.DEFAULT_DISPOSITIONS)
        for option in self.client.property_options("calls", "hs_call_disposition"):
            if option.get("value"):
                labels[str(option["value"])] = str(option.get("label") or "")
        return labels

    def owner_pks(self, hubspot_ids: Iterable[str]) -> dict[str, int]:
        """Our Owner pk per HubSpot owner id. An owner the owners sync has not brought yet gets a
        placeholder row (filled in by the next owners sync) so no record loses its owner."""
        wanted = {i for i in hubspot_ids if i} - self._owner_pks.keys()
        if wanted:
            known = dict(Owner.objects.filter(hubspot_id__in=wanted).values_list("hubspot_id", "pk"))
            missing = wanted - known.keys()
            if missing:
                Owner.objects.bulk_create(
                    [Owner(hubspot_id=i) for i in sorted(missing)], ignore_conflicts=True
                )
                known = dict(Owner.objects.filter(hubspot_id__in=wanted).values_list("hubspot_id", "pk"))
            self._owner_pks.update(known)
        return self._owner_pks

    def forget_owners(self) -> None:
        self._owner_pks.clear()


def _unique(records: list[dict]) -> list[dict]:
    # A page may repeat a record (overlapping windows); the last copy is the newest.
    return list({str(r["id"]): r for r in records}.values())


def _apply(instance, values: dict) -> set[str]:
    """Set the values on the instance; the names of the fields that changed."""
    changed = set()
    for name, value in values.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed.add(name)
    return changed


# --- owners -----------------------------------------------------------------------------
def owners_prefetch(ctx: SyncContext, records: list[dict]) -> Prefetched:
    return Prefetched()  # an owner page is all there is to an owner


def owners_store(ctx: SyncContext, records: list[dict], prefetched: Prefetched) -> BatchResult:
    result = BatchResult()
    records = _unique(records)
    existing = {o.hubspot_id: o for o in Owner.objects.filter(hubspot_id__in=[str(r["id"]) for r in records])}
    to_create, to_update, fields = [], [], set()
    for record in records:
        values = mapping.owner_fields(record)
        owner = existing.get(str(record["id"]))
        if owner is None:
            to_create.append(Owner(hubspot_id=str(record["id"]), **values))
            continue
        changed = _apply(owner, values)
        if changed:
            to_update.append(owner)
            fields |= changed
        else:
            result.unchanged += 1
    Owner.objects.bulk_create(to_create)
    if to_update:
        Owner.objects.bulk_update(to_update, sorted(fields | {"updated_at"}))
    result.created, result.updated = len(to_create), len(to_update)
    ctx.forget_owners()
    return result


# --- contacts ---------------------------------------------------------------------------
_CONTACT_COMPARED = [
    "first_name",
    "last_name",
    "email",
    "city",
    "lifecycle_stage",
    "lead_status",
    "lead_source",
    "hs_created_at",
    "hs_updated_at",
    "is_archived",
    "phone",
    "phone_is_valid",
    "mobile",
    "mobile_is_valid",
    "owner_id",
    "owner_changed_at",
    "merged_into_id",
    "hubspot_id",
]


def _contact_values(record: dict, owner_pks: dict[str, int]) -> dict:
    values = mapping.contact_fields(record)
    phones = Contact()
    p = mapping.props(record)
    contact_set_phones(phones, phone=mapping.text(p.get("phone")), mobile=mapping.text(p.get("mobilephone")))
    values.update(
        phone=phones.phone,
        phone_is_valid=phones.phone_is_valid,
        mobile=phones.mobile,
        mobile_is_valid=phones.mobile_is_valid,
        owner_id=owner_pks.get(mapping.owner_id_of(record)),
    )
    return values


def contacts_prefetch(ctx: SyncContext, records: list[dict]) -> Prefetched:
    """The owner histories, when the page does not carry them (search pages), of the contacts
    new here (every change they went through before we saw them is recorded) and of those whose
    owner differs from ours."""
    records = _unique(records)
    wanted = set(_history_wanted(records))
    if not wanted:
        return Prefetched()
    histories = {}
    for archived in (False, True):
        ids = [
            str(r["id"]) for r in records if str(r["id"]) in wanted and bool(r.get("archived")) == archived
        ]
        if ids:
            for record in ctx.client.batch_read(
                "contacts",
                ids,
                properties=[mapping.OWNER_PROPERTY],
                properties_with_history=[mapping.OWNER_PROPERTY],
                archived=archived,
            ):
                histories[str(record["id"])] = record
    return Prefetched(owner_histories=histories)


def _history_wanted(records: list[dict]) -> list[str]:
    """HubSpot ids, among records without owner history, of the contacts not stored here and of
    the stored ones whose HubSpot owner is not the one we have (the contacts `contacts_store` will
    see move)."""
    theirs = {str(r["id"]): mapping.owner_id_of(r) for r in records if not mapping.has_owner_history(r)}
    ours = {
        hubspot_id: (owner_pk, owner_hubspot_id)
        for hubspot_id, owner_pk, owner_hubspot_id in Contact.objects.filter(
            hubspot_id__in=theirs
        ).values_list("hubspot_id", "owner_id", "owner__hubspot_id")
    }
    wanted = []
    for hubspot_id, owner in theirs.items():
        if hubspot_id not in ours:
            wanted.append(hubspot_id)  # new here: its history holds the changes made before
            continue
        owner_pk, owner_hubspot_id = ours[hubspot_id]
        # Unassigned in HubSpot: any owner here is a change, even one without a HubSpot id.
        if (owner_hubspot_id != owner) if owner else (owner_pk is not None):
            wanted.append(hubspot_id)
    return wanted


def contacts_store(ctx: SyncContext, records: list[dict], prefetched: Prefetched) -> BatchResult:
    """Upsert contacts; record owner changes (from property history, and from the diff with
    what we had); point merged-away contacts, their calls, deals and tasks at the survivor."""
    result = BatchResult()
    records = _unique(records)
    ids = [str(r["id"]) for r in records]
    existing = {c.hubspot_id: c for c in Contact.objects.filter(hubspot_id__in=ids).only(*_CONTACT_COMPARED)}
    owner_pks = ctx.owner_pks(mapping.owner_id_of(r) for r in records)
    to_create, to_update, fields = [], [], set()
    moved: dict[str, int | None] = {}  # hubspot id -> the owner it had here before this page
    for record in records:
        hubspot_id = str(record["id"])
        values = _contact_values(record, owner_pks)
        contact = existing.get(hubspot_id)
        if contact is None:
            to_create.append(Contact(hubspot_id=hubspot_id, **values))
            continue
        before = contact.owner_id
        changed = _apply(contact, values)
        if "owner_id" in changed:
            moved[hubspot_id] = before
        if changed:
            to_update.append(contact)
            fields |= changed
        else:
            result.unchanged += 1
    Contact.objects.bulk_create(to_create)
    if to_update:
        Contact.objects.bulk_update(to_update, sorted(fields | {"updated_at"}))
    # The owners these contacts left count them no more (the new owners' figures are forgotten
    # when the contacts are re-scored).
    follow_up_figures_forget(moved.values())
    result.created, result.updated = len(to_create), len(to_update)
    stored = {c.hubspot_id: c for c in [*to_create, *to_update]} | existing
    result.scored_ids |= {c.pk for c in [*to_create, *to_update]}
    result.owner_changes = _owner_changes_record(ctx, records, stored, moved, prefetched.owner_histories)
    result.contact_ids |= _merges_apply(records, stored)
    return result


def _owner_changes_record(
    ctx: SyncContext,
    records: list[dict],
    stored: dict[str, Contact],
    moved: dict[str, int | None],
    owner_histories: dict[str, dict],
) -> int:
    """One OwnerChange per change, whichever way it is seen: HubSpot's hubspot_owner_id history
    when the record carries it (full sync) or was read by `contacts_prefetch` for the contacts new
    here or whose owner differs from ours; the diff itself when HubSpot has no history entry for it, or
    when the owner here changed after the prefetch read. The unique constraint on
    (contact, changed_at, to_owner) makes a change seen again, by any run, a no-op."""
    with_history = {str(r["id"]): r for r in records if mapping.has_owner_history(r)}
    with_history |= {i: r for i, r in owner_histories.items() if i not in with_history}
    transitions = {i: mapping.owner_transitions(r) for i, r in with_history.items() if i in stored}
    owner_pks = ctx.owner_pks(
        owner for ts in transitions.values() for t in ts for owner in (t.from_owner, t.to_owner)
    )
    changes = []
    for hubspot_id, contact_transitions in transitions.items():
        contact = stored[hubspot_id]
        for t in contact_transitions:
            changes.append(
                OwnerChange(
                    contact_id=contact.pk,
                    from_owner_id=owner_pks.get(t.from_owner),
                    to_owner_id=owner_pks.get(t.to_owner),
                    changed_at=t.at,
                    source=ctx.source,
                    note=f"HubSpot owner history ({t.source_type or 'unknown source'})",
                )
            )
    for hubspot_id, before in moved.items():
        contact = stored[hubspot_id]
        seen = any(owner_pks.get(t.to_owner) == contact.owner_id for t in transitions.get(hubspot_id, []))
        if not seen:
            changes.append(
                OwnerChange(
                    contact_id=contact.pk,
                    from_owner_id=before,
                    to_owner_id=contact.owner_id,
                    changed_at=contact.hs_updated_at or timeutils.now(),
                    source=ctx.source,
                    note="Owner differs from the last sync (no HubSpot history entry)",
                )
            )
    if not changes:
        return 0
    # The unique constraint cannot see a repeat of a change to "unassigned" (NULLs differ), so
    # repeats are filtered here; the constraint still settles a race between two runs.
    known = set(
        OwnerChange.objects.filter(contact_id__in={c.contact_id for c in changes}).values_list(
            "contact_id", "changed_at", "to_owner_id"
        )
    )
    fresh = {}
    for change in changes:
        fresh.setdefault((change.contact_id, change.changed_at, change.to_owner_id), change)
    changes = [c for key, c in fresh.items() if key not in known]
    if changes:
        OwnerChange.objects.bulk_create(changes, ignore_conflicts=True)
    latest: dict[int, tuple] = {}
    for change in changes:
        current = latest.get(change.contact_id)
        if current is None or change.changed_at > current[0]:
            latest[change.contact_id] = (change.changed_at, change.to_owner_id)
    # "Recently assigned" reads owner_changed_at: the newest change wins, never an older one.
    moved_later = []
    for contact in Contact.objects.filter(pk__in=latest).only("pk", "owner_changed_at"):
        at = latest[contact.pk][0]
        if contact.owner_changed_at is None or contact.owner_changed_at < at:
            contact.owner_changed_at = at
            moved_later.append(contact)
    Contact.objects.bulk_update(moved_later, ["owner_changed_at"])
    _introductions_open(ctx, [stored[i] for i in moved])
    return len(changes)


def _introductions_open(ctx: SyncContext, contacts: list[Contact]) -> None:
    """A NEW_OWNER_INTRODUCTION for each contact that just moved to a new owner (when configured).
    An open one already there is handed to the new owner instead of opening a second."""
    if not settings.HUBSPOT_OWNER_CHANGE_INTERVENTION:
        return
    contacts = [c for c in contacts if c.owner_id and not c.is_archived and c.merged_into_id is None]
    if not contacts:
        return
    now = timeutils.now()
    by_new_owner = defaultdict(list)
    for contact in contacts:
        by_new_owner[contact.owner_id].append(contact.pk)
    for owner_id, contact_ids in by_new_owner.items():
        Intervention.objects.filter(
            contact_id__in=contact_ids,
            intervention_type=InterventionType.NEW_OWNER_INTRODUCTION,
            status__in=OPEN_INTERVENTION_STATUSES,
        ).exclude(owner_id=owner_id).update(owner_id=owner_id)
    zones = dict(Contact.objects.filter(pk__in=[c.pk for c in contacts]).values_list("pk", "health_zone"))
    Intervention.objects.bulk_create(
        [
            Intervention(
                contact_id=c.pk,
                intervention_type=InterventionType.NEW_OWNER_INTRODUCTION,
                owner_id=c.owner_id,
                zone_at_creation=zones.get(c.pk, ""),
                created_at=now,
                notes="Owner changed in HubSpot: introduce the new owner.",
            )
            for c in contacts
        ],
        ignore_conflicts=True,
    )


def _merges_apply(records: list[dict], stored: dict[str, Contact]) -> set[int]:
    """Merged-away contacts point at their survivor and hand it their calls (done and scheduled),
    deals and tasks.
    Returns the contacts whose facts changed."""
    survivor_of = {m: stored[str(r["id"])].pk for r in records for m in mapping.merged_ids(r)}
    if not survivor_of:
        return set()
    affected = set()
    merged = Contact.objects.filter(hubspot_id__in=survivor_of).values_list(
        "pk", "hubspot_id", "merged_into_id"
    )
    for pk, hubspot_id, merged_into_id in merged:
        survivor = survivor_of[hubspot_id]
        if pk == survivor:
            continue
        if merged_into_id != survivor:
            Contact.objects.filter(pk=pk).update(merged_into_id=survivor)
        moved = sum(
            model.objects.filter(contact_id=pk).update(contact_id=survivor)
            for model in (CallRecord, ScheduledCall, Deal, Task)
        )
        if moved or merged_into_id != survivor:
            affected |= {pk, survivor}
    return affected


# --- records associated with contacts ----------------------------------------------------
def _hubspot_contacts(
    ctx: SyncContext, object_type: str, records: list[dict], inline: bool
) -> dict[str, list[str]]:
    """The HubSpot ids of each record's contacts. `inline`: the records came from a list call that
    embedded their associations; otherwise they are read from HubSpot."""
    if not inline:
        return ctx.client.associations(object_type, "contacts", [str(r["id"]) for r in records])
    hubspot_contacts = {}
    for r in records:
        results = ((r.get("associations") or {}).get("contacts") or {}).get("results") or []
        hubspot_contacts[str(r["id"])] = [str(a["id"]) for a in results]
    return hubspot_contacts


def _parents_prefetch(ctx: SyncContext, hubspot_contacts: dict[str, list[str]]) -> list[dict]:
    """The contacts these records point at that are not stored here, read by id (active, then
    archived): a call logged on a contact created after our last contacts pass must find it,
    whatever order the schedules run in. Ids HubSpot has under neither are left out."""
    wanted = {c for cs in hubspot_contacts.values() for c in cs}
    if not wanted:
        return []
    missing = wanted - set(Contact.objects.filter(hubspot_id__in=wanted).values_list("hubspot_id", flat=True))
    found: list[dict] = []
    for archived in (False, True):
        if not missing:
            break
        records = ctx.client.batch_read(
            "contacts",
            sorted(missing, key=lambda i: (len(i), i)),
            properties=mapping.CONTACT_PROPERTIES,
            properties_with_history=[mapping.OWNER_PROPERTY],
            archived=archived,
        )
        found += records
        # Reading a merged-away id may answer with its survivor.
        missing -= {str(r["id"]) for r in records} | {m for r in records for m in mapping.merged_ids(r)}
    return found


def _parents_store(ctx: SyncContext, prefetched: Prefetched, result: BatchResult) -> None:
    """Store the contacts read by `_parents_prefetch` first, in the page's transaction."""
    if not prefetched.parents:
        return
    stored = contacts_store(ctx, prefetched.parents, Prefetched())
    result.parents_fetched += len(prefetched.parents)
    result.owner_changes += stored.owner_changes
    result.scored_ids |= stored.scored_ids
    result.contact_ids |= stored.contact_ids


def _contact_of(hubspot_contacts: dict[str, list[str]], parents: list[dict] = ()) -> dict[str, int | None]:
    """Our contact pk per record, from its contact associations (the lowest HubSpot id when there
    are several, so the choice is stable); a merged-away contact gives way to its survivor."""
    alias = {m: str(r["id"]) for r in parents for m in mapping.merged_ids(r)}
    wanted = {c for cs in hubspot_contacts.values() for c in cs} | set(alias.values())
    pks = {
        hubspot_id: merged_into or pk
        for hubspot_id, pk, merged_into in Contact.objects.filter(hubspot_id__in=wanted).values_list(
            "hubspot_id", "pk", "merged_into_id"
        )
    }
    pks |= {
        merged: pks[survivor] for merged, survivor in alias.items() if survivor in pks and merged not in pks
    }
    chosen = {}
    for record_id, contact_ids in hubspot_contacts.items():
        known = sorted((c for c in contact_ids if c in pks), key=lambda c: (len(c), c))
        chosen[record_id] = pks[known[0]] if known else None
    return chosen


def _park(ctx: SyncContext, object_type: str, records: list[tuple[dict, str]]) -> list[str]:
    """Keep records that cannot be stored yet, each with why, so no cursor moves past them; a
    record parked again gets its newest copy and one more attempt. Returns their HubSpot ids."""
    if not records:
        return []
    now = timeutils.now()
    by_id = {str(record["id"]): (record, reason) for record, reason in records}
    known = {
        p.hubspot_id: p for p in ParkedRecord.objects.filter(object_type=object_type, hubspot_id__in=by_id)
    }
    for hubspot_id, parked in known.items():
        record, reason = by_id[hubspot_id]
        parked.payload, parked.reason, parked.last_tried_at = record, reason[:255], now
        parked.attempts += 1
    ParkedRecord.objects.bulk_update(known.values(), ["payload", "reason", "last_tried_at", "attempts"])
    ParkedRecord.objects.bulk_create(
        [
            ParkedRecord(
                object_type=object_type,
                hubspot_id=hubspot_id,
                reason=reason[:255],
                payload=record,
                parked_at=now,
                last_tried_at=now,
            )
            for hubspot_id, (record, reason) in by_id.items()
            if hubspot_id not in known
        ]
    )
    return list(by_id)


def _unparked(object_type: str, hubspot_ids: Iterable[str]) -> None:
    """Stored at last: no longer parked."""
    ParkedRecord.objects.filter(object_type=object_type, hubspot_id__in=list(hubspot_ids)).delete()


def _missing_contact_reason(contact_ids: list[str]) -> str:
    if not contact_ids:
        return "no contact association in HubSpot"
    return f"contact {', '.join(sorted(contact_ids)[:5])} not found in HubSpot (active or archived)"


_DEAL_COMPARED = [
    "hubspot_id",
    "contact_id",
    "owner_id",
    "name",
    "pipeline",
    "pipeline_label",
    "stage",
    "stage_label",
    "amount",
    "close_date",
    "is_closed",
    "is_won",
    "hs_created_at",
    "hs_updated_at",
    "stage_entered_at",
    "is_archived",
]


def _associated_prefetch(
    ctx: SyncContext, object_type: str, records: list[dict], inline: bool, **extra
) -> Prefetched:
    hubspot_contacts = _hubspot_contacts(ctx, object_type, records, inline)
    return Prefetched(
        hubspot_contacts=hubspot_contacts, parents=_parents_prefetch(ctx, hubspot_contacts), **extra
    )


def deals_prefetch(ctx: SyncContext, records: list[dict], *, inline_associations: bool = False) -> Prefetched:
    return _associated_prefetch(ctx, "deals", _unique(records), inline_associations, stages=ctx.stages)


def deals_store(ctx: SyncContext, records: list[dict], prefetched: Prefetched) -> BatchResult:
    def values_of(record: dict, deal: Deal | None) -> dict:
        values = mapping.deal_fields(record, prefetched.stages)
        entered = mapping.deal_stage_entered_at(record)
        if deal is None or deal.stage != values["stage"]:
            # Without HubSpot's "entered current stage" date, a new stage is dated by the modification.
            values["stage_entered_at"] = entered or values["hs_updated_at"]
        else:
            values["stage_entered_at"] = entered or deal.stage_entered_at
        return values

    return _contact_records_store(
        ctx,
        records,
        prefetched,
        model=Deal,
        compared=_DEAL_COMPARED,
        values_of=values_of,
    )


def _contact_records_store(
    ctx: SyncContext,
    records: list[dict],
    prefetched: Prefetched,
    *,
    model: type[Deal] | type[Task],
    compared: list[str],
    values_of: Callable[[dict, Any], dict],
) -> BatchResult:
    """Upsert deals or tasks by HubSpot id: one read of the stored rows, then one bulk create and
    one bulk update of only the changed fields. Every contact a row moves from or to is reported,
    so its facts are rebuilt. A record whose contacts cannot be found is parked until they can; one
    with no contact association at all (a company's deal, a to-do of the owner's) is stored as is."""
    result = BatchResult()
    object_type = _OBJECT_TYPE_OF[model]
    records = _unique(records)
    _parents_store(ctx, prefetched, result)
    contact_of = _contact_of(prefetched.hubspot_contacts, prefetched.parents)
    waiting = []
    for record in records:
        hubspot_id = str(record["id"])
        named = prefetched.hubspot_contacts.get(hubspot_id, [])
        if contact_of.get(hubspot_id) is None and named:
            waiting.append((record, _missing_contact_reason(named)))
    result.parked = _park(ctx, object_type, waiting)
    records = [r for r in records if str(r["id"]) not in set(result.parked)]
    owner_pks = ctx.owner_pks(mapping.owner_id_of(r) for r in records)
    existing = {
        row.hubspot_id: row
        for row in model.objects.filter(hubspot_id__in=[str(r["id"]) for r in records]).only(*compared)
    }
    to_create, to_update, fields = [], [], set()
    for record in records:
        hubspot_id = str(record["id"])
        row = existing.get(hubspot_id)
        values = values_of(record, row)
        values.update(
            contact_id=contact_of.get(hubspot_id), owner_id=owner_pks.get(mapping.owner_id_of(record))
        )
        if row is None:
            to_create.append(model(hubspot_id=hubspot_id, **values))
            result.contact_ids.add(values["contact_id"])
            continue
        before_contact = row.contact_id
        changed = _apply(row, values)
        if changed:
            to_update.append(row)
            fields |= changed
            result.contact_ids |= {before_contact, row.contact_id}
        else:
            result.unchanged += 1
    model.objects.bulk_create(to_create)
    if to_update:
        model.objects.bulk_update(to_update, sorted(fields | {"updated_at"}))
    _unparked(object_type, (str(r["id"]) for r in records))
    result.created, result.updated = len(to_create), len(to_update)
    result.contact_ids.discard(None)
    return result


_OBJECT_TYPE_OF = {Deal: "deals", Task: "tasks"}

_CALL_COMPARED = [
    "contact_id",
    "owner_id",
    "status",
    "outcome",
    "direction",
    "started_at",
    "duration_seconds",
    "notes",
    "source",
    "external_id",
]


def _calls_kept(records: list[dict]) -> list[dict]:
    # Calls have no archived flag here: an archived call is left as it is (it still happened).
    return [r for r in _unique(records) if not r.get("archived")]


def calls_prefetch(ctx: SyncContext, records: list[dict], *, inline_associations: bool = False) -> Prefetched:
    return _associated_prefetch(
        ctx, "calls", _calls_kept(records), inline_associations, dispositions=ctx.dispositions
    )


def calls_store(ctx: SyncContext, records: list[dict], prefetched: Prefetched) -> BatchResult:
    """Upsert HubSpot calls keyed by (source=hubspot, external_id=HubSpot id). A call HubSpot
    still has QUEUED has not happened: it is kept as a ScheduledCall, which counts for nothing,
    until HubSpot reports it otherwise. A call logged here that comes back from HubSpot (same
    contact and direction, within SAME_CALL_WINDOW) is that call, not a second one: it is left as
    logged (counted as skipped). A call whose contact cannot be found is parked."""
    result = BatchResult()
    records = _calls_kept(records)
    _parents_store(ctx, prefetched, result)
    contact_of = _contact_of(prefetched.hubspot_contacts, prefetched.parents)
    owner_pks = ctx.owner_pks(mapping.owner_id_of(r) for r in records)
    existing = {
        c.external_id: c
        for c in CallRecord.objects.filter(
            source=CallSource.HUBSPOT, external_id__in=[str(r["id"]) for r in records]
        ).only("id", *_CALL_COMPARED)
    }
    incoming, scheduled, waiting = [], [], []
    for record in records:
        hubspot_id = str(record["id"])
        contact_id = contact_of.get(hubspot_id)
        values = mapping.call_fields(record, prefetched.dispositions)
        if contact_id is None or values["started_at"] is None:
            named = prefetched.hubspot_contacts.get(hubspot_id, [])
            waiting.append((record, _missing_contact_reason(named) if contact_id is None else "no call time"))
            continue
        values.update(contact_id=contact_id, owner_id=owner_pks.get(mapping.owner_id_of(record)))
        if mapping.call_is_scheduled(record):
            scheduled.append((hubspot_id, values))
        else:
            incoming.append((hubspot_id, values))
    result.parked = _park(ctx, "calls", waiting)
    _scheduled_store(scheduled, existing, result)
    local = _local_calls(incoming, existing)
    to_create, to_update, fields = [], [], set()
    for hubspot_id, values in incoming:
        call = existing.get(hubspot_id)
        if call is None:
            if _logged_here(local, values):
                result.skipped += 1
                continue
            to_create.append(CallRecord(source=CallSource.HUBSPOT, external_id=hubspot_id, **values))
            result.contact_ids.add(values["contact_id"])
            continue
        before_contact = call.contact_id
        changed = _apply(call, values)
        if changed:
            to_update.append(call)
            fields |= changed
            result.contact_ids |= {before_contact, call.contact_id}
        else:
            result.unchanged += 1
    CallRecord.objects.bulk_create(to_create)
    if to_update:
        CallRecord.objects.bulk_update(to_update, sorted(fields))
    happened = [hubspot_id for hubspot_id, _ in incoming]
    ScheduledCall.objects.filter(hubspot_id__in=happened).delete()  # it happened now
    _unparked("calls", happened + [hubspot_id for hubspot_id, _ in scheduled])
    result.created += len(to_create)
    result.updated += len(to_update)
    return result


def _scheduled_store(scheduled: list[tuple[str, dict]], existing: dict, result: BatchResult) -> None:
    """Upsert the calls HubSpot has QUEUED as ScheduledCall rows. One stored as a call before
    (HubSpot moved it back, or an older sync counted it as unanswered) did not happen: it goes."""
    if not scheduled:
        return
    stale = [existing.pop(hubspot_id) for hubspot_id, _ in scheduled if hubspot_id in existing]
    if stale:
        CallRecord.objects.filter(pk__in=[c.pk for c in stale]).delete()
        result.contact_ids |= {c.contact_id for c in stale}
    rows = {s.hubspot_id: s for s in ScheduledCall.objects.filter(hubspot_id__in=[i for i, _ in scheduled])}
    to_create, to_update = [], []
    for hubspot_id, values in scheduled:
        wanted = {
            "contact_id": values["contact_id"],
            "owner_id": values["owner_id"],
            "direction": values["direction"],
            "scheduled_for": values["started_at"],
            "notes": values["notes"],
        }
        row = rows.get(hubspot_id)
        if row is None:
            to_create.append(ScheduledCall(hubspot_id=hubspot_id, **wanted))
        elif _apply(row, wanted):
            to_update.append(row)
        else:
            result.unchanged += 1
    ScheduledCall.objects.bulk_create(to_create)
    ScheduledCall.objects.bulk_update(
        to_update, ["contact_id", "owner_id", "direction", "scheduled_for", "notes"]
    )
    result.created += len(to_create)
    result.updated += len(to_update) + len(stale)


def _local_calls(incoming: list[tuple[str, dict]], existing: dict) -> dict[int, list[tuple]]:
    new = [v for i, v in incoming if i not in existing]
    if not new:
        return {}
    earliest = min(v["started_at"] for v in new) - SAME_CALL_WINDOW
    latest = max(v["started_at"] for v in new) + SAME_CALL_WINDOW
    rows = (
        CallRecord.objects.filter(
            contact_id__in={v["contact_id"] for v in new}, started_at__range=(earliest, latest)
        )
        .exclude(source=CallSource.HUBSPOT)
        .values_list("contact_id", "direction", "started_at")
    )
    by_contact: dict[int, list[tuple]] = {}
    for contact_id, direction, started_at in rows:
        by_contact.setdefault(contact_id, []).append((direction, started_at))
    return by_contact


def _logged_here(local: dict[int, list[tuple]], values: dict) -> bool:
    return any(
        direction == values["direction"] and abs(started_at - values["started_at"]) <= SAME_CALL_WINDOW
        for direction, started_at in local.get(values["contact_id"], [])
    )


_TASK_COMPARED = [
    "hubspot_id",
    "contact_id",
    "owner_id",
    "subject",
    "task_type",
    "due_at",
    "status",
    "completed_at",
    "hs_updated_at",
    "is_archived",
]


def tasks_prefetch(ctx: SyncContext, records: list[dict], *, inline_associations: bool = False) -> Prefetched:
    return _associated_prefetch(ctx, "tasks", _unique(records), inline_associations)


def tasks_store(ctx: SyncContext, records: list[dict], prefetched: Prefetched) -> BatchResult:
    return _contact_records_store(
        ctx,
        records,
        prefetched,
        model=Task,
        compared=_TASK_COMPARED,
        values_of=lambda record, task: mapping.task_fields(record),
    )


# Read from HubSpot before a page's transaction opens; the store then runs inside it.
PREFETCHES = {
    "owners": owners_prefetch,
    "contacts": contacts_prefetch,
    "deals": deals_prefetch,
    "calls": calls_prefetch,
    "tasks": tasks_prefetch,
}
STORES = {
    "owners": owners_store,
    "contacts": contacts_store,
    "deals": deals_store,
    "calls": calls_store,
    "tasks": tasks_store,
}
