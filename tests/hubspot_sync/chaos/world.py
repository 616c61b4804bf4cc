"""The chaos portal: what is put into the fake HubSpot, and what each record must then look like
here (the ground truth), written down without the sync's mapping code."""

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from tests.fakes.hubspot_server import DEFAULT_DISPOSITION_OPTIONS, FakeHubSpot, iso

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# Big enough for several pages of each type (50 contacts a page with owner history, 100 of the
# rest), small enough for the whole matrix to run in well under a minute.
OWNERS, CONTACTS, DEALS, CALLS, ORPHAN_CALLS, TASKS = 8, 100, 30, 240, 4, 72
LIFECYCLE_STAGES = [
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
]
DEAL_STAGES = {
    "default": ["appointmentscheduled", "qualifiedtobuy", "closedwon", "closedlost"],
    "7001": ["1100", "1101"],
}
TASK_STATUSES = ["NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"]
GUID = {option["label"]: option["value"] for option in DEFAULT_DISPOSITION_OPTIONS}


@dataclass(frozen=True)
class CallKind:
    """A HubSpot call as it is written there, and what it must become here."""

    hs_status: str
    disposition: str | None
    duration_ms: int
    status: str
    outcome: str


CALL_KINDS = {
    "connected": CallKind("COMPLETED", GUID["Connected"], 240_000, "answered", "connected"),
    "no_answer": CallKind("NO_ANSWER", GUID["No answer"], 0, "no_answer", ""),
    "busy": CallKind("BUSY", GUID["Busy"], 0, "busy", ""),
    "voicemail": CallKind("COMPLETED", GUID["Left voicemail"], 30_000, "voicemail", "left_message"),
    "booked": CallKind("COMPLETED", GUID["Meeting booked"], 600_000, "answered", "booked"),
    # Planned, not happened: counts for nothing (a CallRecord "scheduled" or a ScheduledCall).
    "queued": CallKind("QUEUED", None, 0, "scheduled", ""),
    "failed": CallKind("FAILED", None, 0, "failed", ""),
}
CALL_WEIGHTS = {
    "connected": 30,
    "no_answer": 25,
    "busy": 10,
    "voicemail": 12,
    "booked": 8,
    "queued": 5,
    "failed": 10,
}


@dataclass
class ContactTruth:
    owner: str
    phone: str
    mobile: str
    stage: str
    history: list[tuple[str, datetime]]  # hubspot_owner_id values, oldest first
    archived: bool = False
    merged_into: str | None = None


@dataclass
class ChildTruth:
    """A deal or task: its contact (as associated in HubSpot), its stage or status, archived."""

    contact: str
    value: str
    archived: bool = False


@dataclass
class CallTruth:
    contact: str | None  # None: no contact association at all (must be parked, not dropped)
    kind: str
    started_at: datetime


def _ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class World:
    """The portal in the fake, and what each record must look like here."""

    def __init__(self, fake: FakeHubSpot, seed: int, *, advance: Callable[[timedelta], None]) -> None:
        self.fake, self.rng, self._advance = fake, random.Random(seed), advance
        self.owners: dict[str, bool] = {}  # id -> active
        self.contacts: dict[str, ContactTruth] = {}
        self.deals: dict[str, ChildTruth] = {}
        self.tasks: dict[str, ChildTruth] = {}
        self.calls: dict[str, CallTruth] = {}
        self.version = 0  # moves with every change in HubSpot
        self._next = {"contacts": 1001, "deals": 5001, "calls": 8001, "tasks": 20001}
        self._past = START - timedelta(days=10)
        self._last = self._past

    # -- time: the initial portal lies in the past; changes happen now, strictly increasing
    def _then(self) -> datetime:
        self._past += timedelta(seconds=1)
        return self._past

    def now(self) -> datetime:
        moment = _ms(timezone.now())
        if moment <= self._last:
            self._advance(self._last - moment + timedelta(milliseconds=1))
            moment = _ms(timezone.now())
        self._last = moment
        return moment

    def _id(self, object_type: str) -> str:
        self._next[object_type] += 1
        return str(self._next[object_type] - 1)

    # -- writes: HubSpot and the truth together
    def _contact_new(self, at: datetime, owners: list[str]) -> str:
        cid = self._id("contacts")
        n = int(cid)
        # Phones already in E.164 (valid UAE mobiles): what is stored must equal them exactly.
        truth = ContactTruth(
            owner=owners[0],
            phone=f"+9715012{n:05d}",
            mobile=f"+9715512{n:05d}",
            stage=self.rng.choice(LIFECYCLE_STAGES),
            history=[(owners[0], at)],
        )
        self.contacts[cid] = truth
        self.fake.put(
            "contacts",
            cid,
            modified=at,
            created=at,
            firstname=f"First{n}",
            lastname=f"Last{n}",
            email=f"c{n}@example.com",
            phone=truth.phone,
            mobilephone=truth.mobile,
            lifecyclestage=truth.stage,
            hs_lead_status="NEW",
            hubspot_owner_id=owners[0],
        )
        for owner in owners[1:]:
            self.owner_set(cid, owner, at=self._then() if at < START else self.now())
        return cid

    def owner_set(self, cid: str, owner: str, *, at: datetime) -> None:
        truth = self.contacts[cid]
        if owner != truth.owner:
            truth.history.append((owner, at))
        truth.owner = owner
        self.fake.put("contacts", cid, modified=at, hubspot_owner_id=owner)

    def _contact_edit(self, cid: str, *, at: datetime, phone: str = "", stage: str = "") -> None:
        truth = self.contacts[cid]
        changes = {}
        if phone:
            truth.phone = changes["phone"] = phone
        if stage:
            truth.stage = changes["lifecyclestage"] = stage
        self.fake.put("contacts", cid, modified=at, **changes)

    def _deal_new(self, contact: str, at: datetime) -> str:
        did = self._id("deals")
        pipeline = self.rng.choice(list(DEAL_STAGES))
        stage = self.rng.choice(DEAL_STAGES[pipeline])
        self.deals[did] = ChildTruth(contact, stage)
        self.fake.put(
            "deals",
            did,
            modified=at,
            dealname=f"Deal {did}",
            amount=str(self.rng.randrange(500, 9000)),
            pipeline=pipeline,
            dealstage=stage,
            hubspot_owner_id=self.contacts[contact].owner,
            contacts=[contact],
        )
        return did

    def _deal_stage(self, did: str, at: datetime) -> None:
        pipeline = self.fake.store.objects["deals"][did]["properties"]["pipeline"]
        stage = self.rng.choice([s for s in DEAL_STAGES[pipeline] if s != self.deals[did].value])
        self.deals[did].value = stage
        self.fake.put("deals", did, modified=at, dealstage=stage)

    def _call_new(
        self, contact: str | None, at: datetime, *, kind: str = "", when: datetime | None = None
    ) -> str:
        call_id = self._id("calls")
        kind = kind or self.rng.choices(list(CALL_WEIGHTS), weights=list(CALL_WEIGHTS.values()))[0]
        if when is None:
            # Queued calls are planned for later; the rest happened in the days before.
            offset = timedelta(minutes=self.rng.randrange(10, 60 * 24 * 9))
            when = START + offset / 9 if kind == "queued" else START - offset
        when = _ms(when)
        self.calls[call_id] = CallTruth(contact, kind, when)
        self.fake.put(
            "calls",
            call_id,
            modified=at,
            contacts=[contact] if contact else [],
            hs_timestamp=iso(when),
            hs_call_direction=self.rng.choice(["OUTBOUND", "OUTBOUND", "INBOUND"]),
            hs_call_title=f"Call {call_id}",
            hubspot_owner_id=self.contacts[contact].owner if contact else self.rng.choice(list(self.owners)),
            **_call_properties(kind),
        )
        return call_id

    def _call_kind(self, call_id: str, kind: str, at: datetime, *, when: datetime | None = None) -> None:
        truth = self.calls[call_id]
        truth.kind = kind
        changes = _call_properties(kind)
        if when is not None:
            truth.started_at = _ms(when)
            changes["hs_timestamp"] = iso(truth.started_at)
        self.fake.put("calls", call_id, modified=at, **changes)

    def _task_new(self, contact: str, at: datetime) -> str:
        tid = self._id("tasks")
        status = self.rng.choice(TASK_STATUSES)
        self.tasks[tid] = ChildTruth(contact, status)
        due = _ms(START + timedelta(hours=self.rng.randrange(-240, 240)))
        extra = {"hs_task_completion_date": iso(at)} if status == "COMPLETED" else {}
        self.fake.put(
            "tasks",
            tid,
            modified=at,
            contacts=[contact],
            hs_timestamp=iso(due),
            hs_task_subject=f"Task {tid}",
            hs_task_status=status,
            hs_task_type=self.rng.choice(["CALL", "EMAIL", "TODO"]),
            hubspot_owner_id=self.contacts[contact].owner,
            **extra,
        )
        return tid

    def _task_status(self, tid: str, at: datetime) -> None:
        status = self.rng.choice([s for s in TASK_STATUSES if s not in ("COMPLETED", self.tasks[tid].value)])
        self.tasks[tid].value = status
        self.fake.put("tasks", tid, modified=at, hs_task_status=status)

    def _archive(self, object_type: str, record_id: str, at: datetime) -> None:
        # HubSpot moves no modified date when it archives: search cannot see it.
        table = {"contacts": self.contacts, "deals": self.deals, "tasks": self.tasks}[object_type]
        table[record_id].archived = True
        self.fake.archive(object_type, record_id, at=at)

    def _merge(self, survivor: str, merged: str, at: datetime) -> None:
        self.contacts[merged].merged_into = survivor
        self.fake.merge(survivor, merged, at=at)

    def plain_contacts(self) -> list[str]:
        """Contacts neither archived nor merged, in either role, in id order."""
        survivors = {t.merged_into for t in self.contacts.values()}
        return [
            cid
            for cid, t in sorted(self.contacts.items(), key=lambda kv: int(kv[0]))
            if not t.archived and t.merged_into is None and cid not in survivors
        ]

    def _active(self, table: dict[str, ChildTruth]) -> list[str]:
        return [i for i, t in sorted(table.items(), key=lambda kv: int(kv[0])) if not t.archived]

    # -- the portal before the first sync
    def generate(self) -> None:
        self.version += 1
        for n in range(OWNERS):
            owner_id = str(3001 + n)
            self.owners[owner_id] = n < OWNERS - 1  # the last one is a deactivated user
            self.fake.add_owner(owner_id, first=f"Owner{n}", last="Chaos", archived=n == OWNERS - 1)
        owner_ids = list(self.owners)
        weights = [10] * (OWNERS - 1) + [2]
        for _ in range(CONTACTS):
            changes = self.rng.choices([0, 1, 2], weights=[6, 3, 1])[0]
            owners = [self.rng.choices(owner_ids, weights=weights)[0]]
            while len(owners) <= changes:
                owners.append(self.rng.choice([o for o in owner_ids if o != owners[-1]]))
            self._contact_new(self._then(), owners)
        contacts = list(self.contacts)
        for _ in range(DEALS):
            self._deal_new(self.rng.choice(contacts), self._then())
        for _ in range(CALLS):
            self._call_new(self.rng.choice(contacts), self._then())
        for _ in range(ORPHAN_CALLS):
            self._call_new(None, self._then())
        for _ in range(TASKS):
            self._task_new(self.rng.choice(contacts), self._then())
        # Archived before we ever synced: with owner histories too (read in full as well).
        with_history = [c for c in self.plain_contacts() if len(self.contacts[c].history) > 1]
        for cid in self.rng.sample(with_history, 4) + self.rng.sample(self.plain_contacts(), 4):
            if not self.contacts[cid].archived:
                self._archive("contacts", cid, self._then())
        for did in self.rng.sample(self._active(self.deals), 5):
            self._archive("deals", did, self._then())
        for tid in self.rng.sample(self._active(self.tasks), 8):
            self._archive("tasks", tid, self._then())
        # Merged before we ever synced: the merged-away ids are gone from HubSpot.
        picked = self.rng.sample(self.plain_contacts(), 6)
        for survivor, merged in zip(picked[:3], picked[3:], strict=True):
            self._merge(survivor, merged, self._then())

    # -- the change round between runs
    def change_round(self) -> None:
        """Owner changes (some twice), phone and stage edits, archived contacts, deals and tasks,
        merges, queued calls that happened, new calls and deals on known contacts."""
        self.version += 1
        pool = self.plain_contacts()
        self.rng.shuffle(pool)
        # One contact merged away has a queued call: planned calls go to the survivor as well.
        planned = sorted({c.contact for c in self.calls.values() if c.kind == "queued"} & set(pool), key=int)
        if planned:
            at = pool.index(planned[0])
            pool[at], pool[36] = pool[36], pool[at]
        movers, phones, stages = pool[:12], pool[12:20], pool[20:28]
        archived, merges = pool[28:33], pool[33:39]
        extra = pool[39:45]
        for i, cid in enumerate(movers):
            # Never back to an owner it had in this round: A -> B -> A between two runs reads as
            # no change at all.
            taken = {self.contacts[cid].owner}
            for _ in range(2 if i < 3 else 1):
                owner = self.rng.choice([o for o in self.owners if o not in taken])
                taken.add(owner)
                self.owner_set(cid, owner, at=self.now())
        for cid in phones:
            self._contact_edit(cid, at=self.now(), phone=f"+9715213{int(cid):05d}")
        for cid in stages:
            stage = self.rng.choice([s for s in LIFECYCLE_STAGES if s != self.contacts[cid].stage])
            self._contact_edit(cid, at=self.now(), stage=stage)
        for cid in archived:
            self._archive("contacts", cid, self.now())
        for survivor, merged in zip(merges[:3], merges[3:], strict=True):
            self._merge(survivor, merged, self.now())
        queued = [
            i for i, c in self.calls.items() if c.kind == "queued" and c.contact not in (None, pool[36])
        ]
        for call_id in self.rng.sample(queued, min(2, len(queued))):
            at = self.now()
            self._call_kind(call_id, "connected", at, when=at)
        for cid in extra[:5]:
            at = self.now()
            self._call_new(cid, at, when=at)
        for cid in extra[5:]:
            self._deal_new(cid, self.now())
        deals = self._active(self.deals)
        self.rng.shuffle(deals)
        for did in deals[:5]:
            self._deal_stage(did, self.now())
        for did in deals[5:9]:
            self._archive("deals", did, self.now())
        tasks = self._active(self.tasks)
        self.rng.shuffle(tasks)
        for tid in tasks[:5]:
            self._task_status(tid, self.now())
        for tid in tasks[5:10]:
            self._archive("tasks", tid, self.now())

    def children_before_parents(self) -> None:
        """New contacts created after our contacts pass, with calls, tasks and deals that the
        calls, tasks and deals passes read before any contacts pass has seen their contact."""
        self.version += 1
        active = [o for o, on in self.owners.items() if on]
        for n in range(6):
            cid = self._contact_new(self.now(), [self.rng.choice(active)])
            for _ in range(3):
                self._call_new(cid, self.now())
            self._task_new(cid, self.now())
            if n % 3 == 0:
                self._deal_new(cid, self.now())

    def change_while_down(self, object_type: str) -> list[str]:
        """Edits to the first records of the type (on pages a killed run had already read)
        between the kill and the restart. Returns their ids."""
        self.version += 1
        if object_type == "contacts":
            edited = self.plain_contacts()[:2]
            for cid in edited:
                self._contact_edit(cid, at=self.now(), phone=f"+9715814{int(cid):05d}")
            return edited
        if object_type == "deals":
            edited = self._active(self.deals)[:1]
            self._deal_stage(edited[0], self.now())
            return edited
        if object_type == "tasks":
            edited = self._active(self.tasks)[:1]
            self._task_status(edited[0], self.now())
            return edited
        if object_type == "calls":
            call_id = min((i for i, c in self.calls.items() if c.contact and c.kind != "queued"), key=int)
            kind = "busy" if self.calls[call_id].kind != "busy" else "voicemail"
            self._call_kind(call_id, kind, self.now())
            return [call_id]
        return []

    # -- truth helpers
    def survivor(self, cid: str) -> str:
        while self.contacts[cid].merged_into:
            cid = self.contacts[cid].merged_into
        return cid

    def call_facts(self) -> dict[str, tuple[int, datetime | None]]:
        """Per surviving contact: how many calls happened (scheduled ones do not count), the last."""
        facts: dict[str, list[datetime]] = defaultdict(list)
        for call in self.calls.values():
            if call.contact and CALL_KINDS[call.kind].status != "scheduled":
                facts[self.survivor(call.contact)].append(call.started_at)
        return {cid: (len(moments), max(moments)) for cid, moments in facts.items()}


def _call_properties(kind: str) -> dict:
    spec = CALL_KINDS[kind]
    return {
        "hs_call_status": spec.hs_status,
        "hs_call_disposition": spec.disposition,
        "hs_call_duration": str(spec.duration_ms),
    }
