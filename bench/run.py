"""`make bench`: speed at the reference size (SPEC S12), beside the naive way, in one run.

Builds the reference data set on PostgreSQL the first time (200,000 contacts, 2,000,000 calls,
50,000 deals, 40 owners; `seed_demo --scale reference`) and reuses it after. Requests go through
the real views with Django's test client, so a figure is the whole server time of a request
(routing, middleware, queries, template), with its SQL query count. Writes (marking a call) run
in a transaction that is rolled back, so the data set stays as it was.

    BENCH_DATABASE_URL=postgres://... python bench/run.py [--runs 30] [--naive-runs 5] [--only queue,...]
"""

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_bench"
)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuv")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.dashboard import dashboard_pairs  # noqa: E402
from bench.follow_up import follow_up_pairs  # noqa: E402
from bench.hubspot_sync import hubspot_sync_pairs  # noqa: E402
from bench.naive import naive_queue  # noqa: E402
from calls.models import CallRecord  # noqa: E402
from calls.services import call_log, owner_rhythms_refresh, pattern_breaks_detect  # noqa: E402
from crm.fragments import forget_rendered_fragments  # noqa: E402
from leads.models import Contact, Owner  # noqa: E402
from scoring.figures import follow_up_figures_refresh  # noqa: E402
from scoring.priority import QUEUE_WORKABLE  # noqa: E402
from scoring.services import queue_scores_refresh  # noqa: E402

REFERENCE_CONTACTS = 200_000
PARTS = ("queue", "hubspot", "dashboard", "follow-up")
HTMX = {"HX-Request": "true"}


class Measure:
    def __init__(self, name: str, times: list[float], queries: int):
        self.name, self.times, self.queries = name, times, queries

    @property
    def median(self) -> float:
        return statistics.median(self.times) * 1000

    @property
    def p95(self) -> float:
        ordered = sorted(self.times)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000


def _runner(action: Callable[[], object], rollback: bool) -> Callable[[], None]:
    def run() -> None:
        if not rollback:
            action()
            return
        with transaction.atomic():
            action()
            transaction.set_rollback(True)

    return run


def _warm_and_count(run: Callable[[], None], rollback: bool) -> int:
    """Runs once to warm caches and connections, then once more counting the SQL queries, as the
    timed runs make them. Neither is timed: recording each query costs time too (about 0.7 ms
    on the queue page), so the timed runs are not instrumented."""
    run()
    with CaptureQueriesContext(connection) as captured:
        run()
    return len(captured) - (2 if rollback else 0)  # minus the savepoint statements


def _seconds(run: Callable[[], None]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def measure(name: str, action: Callable[[], object], runs: int, *, rollback: bool = False) -> Measure:
    run = _runner(action, rollback)
    queries = _warm_and_count(run, rollback)
    return Measure(name, [_seconds(run) for _ in range(runs)], queries)


def paired(
    name: str,
    ours: Callable[[], object],
    naive: Callable[[], object],
    *,
    runs: int,
    naive_runs: int,
    rollback: bool = False,
) -> tuple[Measure, Measure]:
    """Ours and the naive way measured in turns: a block of ours, one naive run, the next block...
    On a shared machine a slow minute then weighs on both sides of the ratio alike, where two
    back-to-back series could each catch a different minute."""
    ours_run, naive_run = _runner(ours, rollback), _runner(naive, rollback)
    ours_queries, naive_queries = _warm_and_count(ours_run, rollback), _warm_and_count(naive_run, rollback)
    ours_times, naive_times = [], []
    for block in range(naive_runs):
        # Spread `runs` over the blocks as evenly as they divide.
        for _ in range(runs * (block + 1) // naive_runs - runs * block // naive_runs):
            ours_times.append(_seconds(ours_run))
        naive_times.append(_seconds(naive_run))
    return Measure(name, ours_times, ours_queries), Measure("naive", naive_times, naive_queries)


def uncached(request: Callable[[], object]) -> Callable[[], None]:
    """The request as after a restart: no entry or row rendered yet in this process."""

    def run() -> None:
        forget_rendered_fragments()
        request()

    return run


def ok(response):
    assert response.status_code in (200, 204), (response.status_code, response.content[:300])
    return response


def ensure_reference_data() -> None:
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # production static storage, as deployed
    if Contact.objects.count() < REFERENCE_CONTACTS:
        print("Building the reference data set (once; reused by later runs)...", flush=True)
        # The benchmark database is never production (DEBUG is off here for realistic timings).
        call_command("seed_demo", scale="reference", seed=1, flush=True, i_know_this_is_not_production=True)
    if Contact.objects.filter(QUEUE_WORKABLE, queue_score__isnull=True).exists():
        print("Scoring the call queue (once, for a data set built before queue scores)...", flush=True)
        queue_scores_refresh()


def vacuum_busy_tables() -> float:
    """Seconds to vacuum the contact and call tables, as autovacuum does in service soon after
    writes (leads 0011, calls 0004): the rewritten pages are marked all-visible again, so the
    pages' index-only scans stay index-only. Done here because a benchmark server may run with
    autovacuum off, and the jobs before a measurement rewrite thousands of contacts at once,
    where in service those writes spread over the day."""
    started = time.perf_counter()
    with connection.cursor() as cursor:  # outside a transaction: Django autocommits
        cursor.execute(f"VACUUM {Contact._meta.db_table}, {CallRecord._meta.db_table}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--naive-runs", type=int, default=5)
    parser.add_argument(
        "--only",
        default=",".join(PARTS),
        help=f"comma-separated parts to measure (default: all of {', '.join(PARTS)})",
    )
    args = parser.parse_args()
    parts = set(args.only.split(","))
    if parts - set(PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(parts - set(PARTS)))}")
    assert connection.vendor == "postgresql", "the benchmark runs on PostgreSQL (BENCH_DATABASE_URL)"
    ensure_reference_data()

    started = time.perf_counter()
    result = pattern_breaks_detect()
    pattern_seconds = time.perf_counter() - started
    started = time.perf_counter()
    owner_rhythms_refresh()
    rhythm_seconds = time.perf_counter() - started
    queue_scores_refresh()  # warm, as in a running worker (the first call imports the AI client)
    started = time.perf_counter()
    rescored = queue_scores_refresh()
    rescore_seconds = time.perf_counter() - started
    started = time.perf_counter()
    recounted = follow_up_figures_refresh()
    recount_seconds = time.perf_counter() - started
    vacuum_seconds = vacuum_busy_tables()
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        autovacuum = cursor.fetchone()[0]

    from django.contrib.auth import get_user_model

    manager = get_user_model().objects.get(username="manager")
    setter = get_user_model().objects.get(username="setter")
    owner = Owner.objects.get(user=setter)
    setter_client, manager_client = Client(), Client()
    setter_client.force_login(setter)
    manager_client.force_login(manager)
    contact = (
        Contact.objects.filter(owner=owner, do_not_contact=False, is_archived=False).order_by("pk").first()
    )
    notes = [
        f"Reference data: {Contact.objects.count():,} contacts, {CallRecord.objects.count():,} calls; "
        f"the setter's owner has {Contact.objects.filter(owner=owner).count():,} contacts. "
        f"PostgreSQL {connection.pg_version}.",
        f"Pattern-break detection over all contacts: {pattern_seconds:.2f} s "
        f"({result.breaks:,} breaks, {result.on_track:,} on track); owners' usual calling days: "
        f"{rhythm_seconds:.2f} s.",
        f"The five-minute job: queue re-scoring of all contacts {rescore_seconds:.2f} s "
        f"({rescored:,} scores changed); follow-up figures of {recounted} owners recounted in "
        f"{recount_seconds:.2f} s.",
        f"Contacts and calls vacuumed after those jobs in {vacuum_seconds:.1f} s (autovacuum is "
        f"{autovacuum} on this server; in service it does this within a minute).",
    ]

    pairs = []
    if "queue" in parts:
        pairs += queue_pairs(args, setter_client, manager_client, owner, contact)
    if "hubspot" in parts:
        pairs += hubspot_sync_pairs()  # its own database; prints rows/s and memory as pages come
    if "dashboard" in parts:
        pairs += dashboard_pairs(runs=args.runs, naive_runs=args.naive_runs)  # manager dashboard (SPEC S4)
    if "follow-up" in parts:
        pairs += follow_up_pairs(runs=args.runs, naive_runs=args.naive_runs)  # follow-up table (SPEC S3)
    report(pairs, notes, args)


def queue_pairs(args, setter_client, manager_client, owner, contact) -> list:
    """The call queue (SPEC S2): its page for one owner and for all, the JSON API, the cards, and
    marking a call with the three refreshes that follow."""

    def mark_call_and_refresh():
        ok(setter_client.post(f"/queue/{contact.pk}/called/", {"result": "no_answer"}, headers=HTMX))
        for target in ("queue-list", "queue-cards", "queue-side"):
            ok(setter_client.get("/queue/", headers={**HTMX, "HX-Target": target}))

    def naive_mark_call_and_refresh():
        call_log(contact=contact, owner=owner, status="no_answer")
        naive_queue(owner=owner)

    def page_and_side_panels():
        ok(setter_client.get("/queue/"))
        ok(setter_client.get("/queue/", headers={**HTMX, "HX-Target": "queue-side"}))

    def one_owner():
        return naive_queue(owner=owner)

    def pair(name, ours, naive=one_owner, **options):
        return paired(name, ours, naive, runs=args.runs, naive_runs=args.naive_runs, **options)

    return [
        pair("queue page, one owner", lambda: ok(setter_client.get("/queue/"))),
        pair("  the same, no entry cached", uncached(lambda: ok(setter_client.get("/queue/")))),
        pair("  the same + its side panels", page_and_side_panels),
        pair(
            "queue page, all owners",
            lambda: ok(manager_client.get("/queue/")),
            lambda: naive_queue(owner=None),
        ),
        pair(
            "queue JSON API, one owner",
            lambda: ok(setter_client.get("/api/leads/needing-action", {"generate_ai_messages": "false"})),
        ),
        pair(
            "summary cards (htmx fragment)",
            lambda: ok(setter_client.get("/queue/", headers={**HTMX, "HX-Target": "queue-cards"})),
            lambda: naive_queue(owner=owner, limit=10**9),
        ),
        pair(
            "mark a call + the three refreshes",
            mark_call_and_refresh,
            naive_mark_call_and_refresh,
            rollback=True,
        ),
    ]


def report(pairs: list, notes: list[str], args) -> None:
    print()
    print("\n".join(notes))
    print()
    header = (
        f"{'':38} {'median':>9} {'p95':>9} {'queries':>8} │ {'naive median':>12} {'p95':>9} │ {'ratio':>7}"
    )
    print(header)
    print("─" * len(header))
    for ours, naive in pairs:
        print(
            f"{ours.name:38} {ours.median:7.1f}ms {ours.p95:7.1f}ms {ours.queries:8d} │ "
            f"{naive.median:10.1f}ms {naive.p95:7.1f}ms │ {naive.median / ours.median:6.0f}x"
        )
    print()
    print(
        f"Runs: {args.runs} (ours), {args.naive_runs} (naive); before them, one warm-up call each "
        "and one counting its queries, neither timed."
    )
    by_owner = Contact.objects.values("owner").annotate(n=Count("id")).order_by("-n").first()
    print(f"Largest owner book: {by_owner['n']:,} contacts.")


if __name__ == "__main__":
    main()
