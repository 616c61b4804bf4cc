"""One chaos scenario: the world put into the fake, the sync run through the real client with
one kind of fault, a change round, more runs, settling without faults, and the comparison at
every point where the sync claims to be complete."""

import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import timedelta

import time_machine
from django.conf import settings
from django.db import connection, transaction
from django.test import override_settings

from hubspot_sync import services
from hubspot_sync.client import HubSpotClient
from hubspot_sync.models import SyncCursor, SyncRun
from tests.fakes.hubspot_server import FakeHubSpot, Faults
from tests.hubspot_sync.chaos.compare import Difference, compare
from tests.hubspot_sync.chaos.world import START, World

FAULT_KINDS = ("none", "5xx", "429", "slow", "kill", "all")
SYNC_TYPES = ("owners", "contacts", "deals", "calls", "tasks")
TOKEN = "chaos-token"
# A 429 burst outlasts the client's retries: 4 attempts wait 10 + 20 + 30 s.
BURST_SECONDS = 75.0
# Slow answers: the client gives up after TIMEOUT, the fake answers after SLOW.
TIMEOUT_SECONDS, SLOW_SECONDS = 0.2, 0.4
SETTLE_PASSES = 4
# Passes run on a schedule: each starts this long after the one before, more than the sync's search
# overlap, so a record a pass skipped is not read again by chance.
SCHEDULE_GAP = timedelta(minutes=10)
DONE = {"succeeded", "incomplete"}  # "incomplete": everything read, some records parked


# --- faults on the client side: the process killed at a page ------------------------------------
class ProcessKilled(BaseException):
    """kill -9 of the sync's process: not an Exception, so no `except Exception` cleanup runs."""


class Killer:
    """Kills the process when the `page`-th list or search page has come back (read, not stored).
    From then on every response and every query of that process raises too (rollbacks pass, as
    the database rolls back a dead connection's transaction), so nothing runs after the kill."""

    def __init__(self, page: int) -> None:
        self.page, self.pages, self.dead, self.killed_at = page, 0, False, ""

    def on_response(self, response, *args, **kwargs):
        if self.dead:
            raise ProcessKilled("the process is dead")
        request = response.request
        path = request.path_url.split("?")[0]
        parts = [p for p in path.split("/") if p]
        is_page = (request.method == "GET" and len(parts) == 4 and parts[2] == "objects") or path.endswith(
            "/search"
        )
        if is_page:
            self.pages += 1
            if self.pages == self.page:
                self.dead, self.killed_at = True, f"killed at page {self.page}, {request.method} {path}"
                raise ProcessKilled(self.killed_at)
        return response

    def guard(self, execute, sql, params, many, context):
        if self.dead and not sql.lstrip().upper().startswith(("ROLLBACK", "SAVEPOINT", "RELEASE")):
            raise ProcessKilled("the process is dead")
        return execute(sql, params, many, context)


class VirtualClock:
    """One time line for the client and the fake: the client's sleeps move it, so rate limits
    and back-offs are judged without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


# --- a scenario ---------------------------------------------------------------------------------
@dataclass
class ScenarioResult:
    seed: int
    fault: str
    differences: list[Difference]
    log: list[str] = field(default_factory=list)
    requests: int = 0
    injected: dict[str, int] = field(default_factory=dict)  # faults by kind, kills included
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        counted = Counter(d.kind for d in self.differences)
        return {kind: counted[kind] for kind in ("lost", "duplicated", "wrong")}

    def by_category(self) -> Counter:
        return Counter((d.category, d.kind) for d in self.differences)

    def report(self, examples: int = 4) -> str:
        lines = [f"seed {self.seed}, fault {self.fault}: {self.counts()}"]
        groups: dict[tuple, list[Difference]] = defaultdict(list)
        for difference in self.differences:
            groups[(difference.category, difference.kind)].append(difference)
        for (category, kind), items in sorted(groups.items()):
            shown = "; ".join(
                f"{d.record} {d.what}{': ' + d.detail if d.detail else ''} [{d.stage}]"
                for d in items[:examples]
            )
            lines.append(f"  {category} {kind}: {len(items)} e.g. {shown}")
        lines.append("  runs: " + " | ".join(self.log))
        return "\n".join(lines)


class Scenario:
    def __init__(self, seed: int, fault: str, fake: FakeHubSpot, clock: VirtualClock, traveller) -> None:
        self.seed, self.fault, self.fake, self.clock, self.traveller = seed, fault, fake, clock, traveller
        self.rng = random.Random(f"{seed}:{fault}")
        self.world = World(fake, seed, advance=traveller.shift)
        self.kills = fault in ("kill", "all")
        self.timeout = TIMEOUT_SECONDS if fault in ("slow", "all") else 5.0
        self.client = self._client()
        self.killed: set[int] = set()
        self.differences: dict[tuple, Difference] = {}
        self.log: list[str] = []
        self.passes = self.kills_done = 0
        self.resuming: dict[str, set[str]] = {}  # type -> ids changed while its run was dead

    def _client(self) -> HubSpotClient:
        return HubSpotClient(
            base_url=self.fake.base_url,
            token=TOKEN,
            objects_path="/crm/v3/objects",
            requests_per_second=9,
            search_requests_per_second=4,
            max_attempts=4,
            timeout=self.timeout,
            clock=self.clock,
            sleep=self.clock.sleep,
            jitter=self.rng.random,
        )

    def _note(self, differences: Iterable[Difference], stage: str) -> None:
        for difference in differences:
            self.differences.setdefault(difference.key, replace(difference, stage=stage))

    def run(self) -> None:
        self.world.generate()
        if self.fault != "none":
            self.fake.faults = Faults.from_seed(
                self.seed,
                server_errors=self.fault in ("5xx", "all"),
                slow=self.fault in ("slow", "all"),
                slow_seconds=SLOW_SECONDS,
            )
        self._pass("first sync", kill_page=self.rng.randint(2, 9), burst_after=self.rng.randint(3, 25))
        self.world.change_round()
        self._pass("round 2 owners+contacts", types=["owners", "contacts"])
        self.world.children_before_parents()
        self._pass(
            "round 2 deals+calls+tasks",
            types=["deals", "calls", "tasks"],
            kill_page=self.rng.randint(1, 3),
            burst_after=self.rng.randint(1, 6),
        )
        self._pass("round 3")
        self.fake.faults = None
        for attempt in range(1, SETTLE_PASSES + 1):
            if self._pass(f"settle {attempt}"):
                break
        else:
            unsettled = Difference(
                "runs", "wrong", "-", f"no pass of every type done in {SETTLE_PASSES} tries"
            )
            self._note([unsettled], "settle")
            self._note(compare(self.world), "settled")
        for run in SyncRun.objects.filter(status="running"):
            stale = Difference("runs", "wrong", f"{run.object_type} run {run.pk}", "still marked running")
            self._note([stale], "end")
        held = SyncCursor.objects.exclude(locked_by="").values_list("object_type", flat=True)
        self._note([Difference("runs", "wrong", t, "lock still held") for t in held], "end")
        self._note(
            [
                Difference("rate_limits", "wrong", f"{r.method} {r.path}", f"refused #{i}")
                for i, r in enumerate(self.fake.rate_limited)
            ],
            "end",
        )

    def _pass(self, stage: str, types: list[str] | None = None, *, kill_page=0, burst_after=0) -> bool:
        """One sync_all (restarted after a kill). Returns whether every type ran and ended done;
        then, when HubSpot did not change since the pass began, the stored state is compared."""
        faults = self.fake.faults
        if burst_after and faults is not None and self.fault in ("429", "all"):
            faults.burst(after_requests=self.fake.fault_requests + burst_after, seconds=BURST_SECONDS)
        if self.passes:
            self.traveller.shift(SCHEDULE_GAP)
            self.clock.sleep(SCHEDULE_GAP.total_seconds())
        self.passes += 1
        version, began = self.world.version, time.perf_counter()
        killer = Killer(kill_page) if self.kills and kill_page else None
        try:
            runs = self._sync(types, killer)
        except ProcessKilled:
            dead = list(SyncRun.objects.filter(status="running").exclude(pk__in=self.killed))
            self.killed |= {run.pk for run in dead}
            self.kills_done += 1
            self.log.append(f"{stage}: {killer.killed_at} ({', '.join(r.object_type for r in dead)})")
            for run in dead:
                edited = self.world.change_while_down(run.object_type)
                self.resuming.setdefault(run.object_type, set()).update(edited)
            self._restart()
            version = self.world.version
            runs = self._sync(types, None)
        ran = {run.object_type: run for run in runs}
        wanted = types or list(SYNC_TYPES)
        problems = [
            Difference("runs", "wrong", t, f"{stage}: no run (locked)") for t in wanted if t not in ran
        ]
        problems += [
            Difference("runs", "wrong", str(run.object_type), f"{stage}: {run.status}", run.last_error[:200])
            for run in runs
            if run.status not in DONE
        ]
        self._note(problems, stage)
        self._resumed_check(stage, [run for run in runs if run.status in DONE])
        summary = ", ".join(f"{r.object_type} {r.mode} {r.status}" for r in runs)
        self.log.append(f"{stage} ({time.perf_counter() - began:.2f} s): {summary}")
        done = not problems
        if done and types is None and self.world.version == version:
            self._note(compare(self.world), stage)
        return done

    def _resumed_check(self, stage: str, runs: list[SyncRun]) -> None:
        """The first run of a killed type to end done must hold what changed while the process was
        dead (on pages the dead run had read): "succeeded" covers every change made before it
        started, however the work was split between runs. HubSpot does not change during a pass."""
        for run in runs:
            edited = self.resuming.pop(run.object_type, None)
            if edited:
                found = [
                    d for d in compare(self.world) if d.category == run.object_type and d.record in edited
                ]
                self._note(found, f"{stage}: the {run.object_type} run after the kill")

    def _sync(self, types: list[str] | None, killer: Killer | None) -> list[SyncRun]:
        if killer is None:
            return services.sync_all(client=self.client, object_types=types)
        hooks = self.client.session.hooks["response"]
        hooks.append(killer.on_response)
        try:
            with connection.execute_wrapper(killer.guard):
                return services.sync_all(client=self.client, object_types=types)
        finally:
            if killer.on_response in hooks:
                hooks.remove(killer.on_response)

    def _restart(self) -> None:
        """A new process one lock lease later: the dead one's lock must have expired by then."""
        lease = getattr(settings, "HUBSPOT_SYNC_LOCK_LEASE_SECONDS", 120) + 1
        self.traveller.shift(timedelta(seconds=lease))
        self.clock.sleep(lease)
        self.client.session.close()
        self.client = self._client()


def run_scenario(*, seed: int, fault: str) -> ScenarioResult:
    """One seed and fault kind from an empty database: world, sync with faults, a change round
    with children before parents, more syncs with faults, settle without faults, compare."""
    began = time.perf_counter()
    clock = VirtualClock()
    with (
        FakeHubSpot(token=TOKEN, clock=clock) as fake,
        override_settings(
            HUBSPOT_ENABLED=True,
            HUBSPOT_ACCESS_TOKEN=TOKEN,
            HUBSPOT_API_BASE=fake.base_url,
            HUBSPOT_OBJECTS_PATH="/crm/v3/objects",
            HUBSPOT_MAX_ATTEMPTS=4,
        ),
        time_machine.travel(START, tick=True) as traveller,
    ):
        scenario = Scenario(seed, fault, fake, clock, traveller)
        scenario.run()
    return ScenarioResult(
        seed=seed,
        fault=fault,
        differences=list(scenario.differences.values()),
        log=scenario.log,
        requests=len(fake.requests),
        injected=dict(Counter(i.kind for i in fake.injected))
        | ({"kill": scenario.kills_done} if scenario.kills_done else {}),
        seconds=time.perf_counter() - began,
    )


def chaos_matrix(*, seeds: Iterable[int], faults: Iterable[str] = FAULT_KINDS) -> list[ScenarioResult]:
    """Every seed x fault scenario, each in a transaction rolled back after it (for a bench or a
    report run outside pytest, on a database with the schema)."""
    results = []
    for seed in seeds:
        for fault in faults:
            with transaction.atomic():
                results.append(run_scenario(seed=seed, fault=fault))
                transaction.set_rollback(True)
    return results


def chaos_table(results: Iterable[ScenarioResult]) -> str:
    """seed x fault -> lost / duplicated / wrong (each difference once, at the first point it was
    seen), with the categories, the requests sent and the faults injected."""
    header = ("seed", "fault", "lost", "dup", "wrong", "reqs", "s", "injected")
    lines = ["{:>4}  {:<5}  {:>5}  {:>4}  {:>5}  {:>5}  {:>4}  {:<26}  by category".format(*header)]
    for r in results:
        counts = r.counts()
        injected = " ".join(f"{kind} {n}" for kind, n in sorted(r.injected.items())) or "-"
        categories = ", ".join(f"{c} {k} {n}" for (c, k), n in sorted(r.by_category().items())) or "-"
        lines.append(
            f"{r.seed:>4}  {r.fault:<5}  {counts['lost']:>5}  {counts['duplicated']:>4}  {counts['wrong']:>5}"
            f"  {r.requests:>5}  {r.seconds:>4.1f}  {injected:<26}  {categories}"
        )
    return "\n".join(lines)
