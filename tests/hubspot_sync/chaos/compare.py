"""Everything the sync stored, compared with the chaos world's truth: each difference named by
category (owners, contacts, call_facts, deals, calls, tasks, owner_changes, parked, runs,
rate_limits), kind (lost, duplicated, wrong) and the HubSpot id it concerns."""

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from django.apps import apps

from calls.models import CallRecord
from leads.models import Contact, Deal, Owner, OwnerChange, Task
from tests.hubspot_sync.chaos.world import CALL_KINDS, World


@dataclass(frozen=True)
class Difference:
    category: str  # owners, contacts, call_facts, deals, calls, tasks, owner_changes, parked, runs...
    kind: str  # lost, duplicated, wrong
    record: str  # HubSpot id (or what else names it)
    what: str  # the field or the fact: one difference however often it is seen
    detail: str = ""
    stage: str = ""  # the first point it was seen at

    @property
    def key(self) -> tuple:
        return self.category, self.kind, self.record, self.what


def _optional_model(app_label: str, name: str):
    try:
        return apps.get_model(app_label, name)
    except LookupError:
        return None


def _shown(value: object) -> str:
    return (
        value.astimezone(UTC).isoformat(timespec="milliseconds")
        if isinstance(value, datetime)
        else repr(value)
    )


def _fields(category: str, record: str, stored: dict, expected: dict) -> list[Difference]:
    return [
        Difference(category, "wrong", record, name, f"stored {_shown(stored[name])}, HubSpot {_shown(value)}")
        for name, value in expected.items()
        if stored[name] != value
    ]


def compare(world: World) -> list[Difference]:
    """Everything stored against the world's truth."""
    found: list[Difference] = []
    stored_owners = dict(
        Owner.objects.filter(hubspot_id__isnull=False).values_list("hubspot_id", "is_active")
    )
    for owner_id, active in world.owners.items():
        if owner_id not in stored_owners:
            found.append(Difference("owners", "lost", owner_id, "not stored"))
        elif stored_owners[owner_id] != active:
            found.append(Difference("owners", "wrong", owner_id, "is_active", f"stored {not active}"))
    found += _contacts_compare(world)
    for category, model, truths, name in (
        ("deals", Deal, world.deals, "stage"),
        ("tasks", Task, world.tasks, "status"),
    ):
        stored = {
            row.pop("hubspot_id"): row
            for row in model.objects.filter(hubspot_id__isnull=False).values(
                "hubspot_id", "contact__hubspot_id", name, "is_archived"
            )
        }
        for record_id, truth in truths.items():
            row = stored.pop(record_id, None)
            if row is None:
                found.append(Difference(category, "lost", record_id, "not stored"))
                continue
            expected = {"contact__hubspot_id": world.survivor(truth.contact), name: truth.value}
            found += _fields(category, record_id, row, expected | {"is_archived": truth.archived})
        found += [Difference(category, "duplicated", i, "stored, not in HubSpot") for i in stored]
    found += _calls_compare(world)
    found += _owner_changes_compare(world)
    return found


def _contacts_compare(world: World) -> list[Difference]:
    found = []
    stored = {
        row.pop("hubspot_id"): row
        for row in Contact.objects.filter(hubspot_id__isnull=False).values(
            "hubspot_id",
            "owner__hubspot_id",
            "phone",
            "mobile",
            "lifecycle_stage",
            "is_archived",
            "merged_into__hubspot_id",
            "call_count",
            "last_call_at",
        )
    }
    facts = world.call_facts()
    for cid, truth in world.contacts.items():
        row = stored.pop(cid, None)
        if truth.merged_into:
            # Merged away: gone from HubSpot. Only a contact we had before the merge is expected,
            # pointing at its survivor, which took its calls, deals and tasks.
            if row is not None:
                found += _fields("contacts", cid, row, {"merged_into__hubspot_id": world.survivor(cid)})
                found += _fields("call_facts", cid, row, {"call_count": 0, "last_call_at": None})
            continue
        if row is None:
            found.append(Difference("contacts", "lost", cid, "not stored"))
            continue
        expected = {
            "owner__hubspot_id": truth.owner,
            "phone": truth.phone,
            "mobile": truth.mobile,
            "lifecycle_stage": truth.stage,
            "is_archived": truth.archived,
            "merged_into__hubspot_id": None,
        }
        found += _fields("contacts", cid, row, expected)
        count, last = facts.get(cid, (0, None))
        found += _fields("call_facts", cid, row, {"call_count": count, "last_call_at": last})
    found += [Difference("contacts", "duplicated", i, "stored, not in HubSpot") for i in stored]
    return found


def _calls_compare(world: World) -> list[Difference]:
    found = []
    rows = list(
        CallRecord.objects.filter(source="hubspot").values(
            "external_id", "contact__hubspot_id", "status", "outcome"
        )
    )
    copies = Counter(r["external_id"] for r in rows)
    stored = {r.pop("external_id"): r for r in rows}
    # QUEUED calls may be kept apart from call records (a model of their own) or as "scheduled".
    scheduled_model = _optional_model("calls", "ScheduledCall")
    scheduled = (
        dict(scheduled_model.objects.values_list("hubspot_id", "contact__hubspot_id"))
        if scheduled_model
        else {}
    )
    parked_model = _optional_model("hubspot_sync", "ParkedRecord")
    parked = (
        Counter(parked_model.objects.values_list("object_type", "hubspot_id")) if parked_model else Counter()
    )
    for call_id, truth in world.calls.items():
        spec = CALL_KINDS[truth.kind]
        row = stored.pop(call_id, None)
        if truth.contact is None:
            if row is not None:
                found.append(Difference("calls", "wrong", call_id, "stored though it has no contact"))
            if parked_model is None:
                found.append(Difference("parked", "lost", call_id, "not parked (no ParkedRecord model)"))
            elif not parked[("calls", call_id)]:
                found.append(Difference("parked", "lost", call_id, "no contact and not parked"))
            continue
        contact = world.survivor(truth.contact)
        if copies[call_id] > 1:
            found.append(Difference("calls", "duplicated", call_id, f"stored {copies[call_id]} times"))
        if spec.status == "scheduled" and row is None and call_id in scheduled:
            found += _fields("calls", call_id, {"contact": scheduled[call_id]}, {"contact": contact})
            continue
        if call_id in scheduled:
            found.append(Difference("calls", "duplicated", call_id, "kept as scheduled besides its record"))
        if row is None:
            found.append(Difference("calls", "lost", call_id, "not stored"))
            continue
        expected = {"contact__hubspot_id": contact, "status": spec.status, "outcome": spec.outcome}
        found += _fields("calls", call_id, row, expected)
    found += [Difference("calls", "duplicated", i, "stored, not in HubSpot") for i in stored]
    orphans = {i for i, c in world.calls.items() if c.contact is None}
    for object_type, record_id in parked:
        if object_type != "calls" or record_id not in orphans:
            found.append(Difference("parked", "wrong", record_id, f"{object_type} still parked"))
    return found


def _owner_changes_compare(world: World) -> list[Difference]:
    """Every owner change in a stored contact's history recorded exactly once."""
    stored_ids = set(Contact.objects.filter(hubspot_id__isnull=False).values_list("hubspot_id", flat=True))
    expected: Counter = Counter()
    for cid, truth in world.contacts.items():
        if truth.merged_into and cid not in stored_ids:
            continue
        for (before, _), (after, at) in zip(truth.history, truth.history[1:], strict=False):
            expected[(cid, before, after, at)] += 1
    stored = Counter(
        OwnerChange.objects.values_list(
            "contact__hubspot_id", "from_owner__hubspot_id", "to_owner__hubspot_id", "changed_at"
        )
    )
    found = []
    missing, extra = expected - stored, stored - expected
    # A change recorded at another moment than HubSpot's is one wrong record, not one lost and
    # one extra; one recorded twice is duplicated; one HubSpot never made is wrong.
    unmatched = defaultdict(list)
    for cid, before, after, at in missing:
        unmatched[(cid, before, after)].append(at)
    for (cid, before, after, at), n in sorted(extra.items(), key=str):
        for copy in range(n):
            label = f"{before}->{after} at {at:%Y-%m-%d %H:%M:%S.%f}" + (
                f" (copy {copy + 1})" if copy else ""
            )
            if unmatched.get((cid, before, after)):
                wanted = unmatched[(cid, before, after)].pop()
                found.append(Difference("owner_changes", "wrong", cid, label, f"HubSpot: at {wanted}"))
            elif any(k[:3] == (cid, before, after) for k in expected):
                found.append(Difference("owner_changes", "duplicated", cid, label, "recorded again"))
            else:
                found.append(Difference("owner_changes", "wrong", cid, label, "not a change in HubSpot"))
    for (cid, before, after), moments in sorted(unmatched.items()):
        for at in moments:
            label = f"{before}->{after} at {at:%Y-%m-%d %H:%M:%S.%f}"
            found.append(Difference("owner_changes", "lost", cid, label, "not recorded"))
    return found
