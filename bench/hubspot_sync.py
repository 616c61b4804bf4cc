"""HubSpot sync at the reference size (SPEC S12): a full sync of 200,000 contacts with their calls
and deals from the local fake HubSpot (rate limits off), rows per second and memory as pages
come, beside the same sync stored one row at a time (update_or_create per record); then a smaller
full sync against the fake with HubSpot's rate limits on (100 requests per rolling 10 s, 5
searches a second), in real time, for the requests per second it keeps against that bound.

It syncs into a database of its own (`<bench database>_hubspot`, created and migrated here), never
into the shared benchmark set, so it runs as a subprocess with its own DATABASE_URL:

    python bench/hubspot_sync.py [--contacts 200000] [--naive-contacts 10000]    # prints a report
    bench/run.py calls hubspot_sync_pairs(), which runs the same and returns (ours, naive) pairs

The fake runs in a process of its own and builds each record from its id when asked (nothing is
held in memory); the memory measured is the sync's own, sampled every 10% of the contacts.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OWNERS = 40
CALLS_PER_CONTACT = 2
CONTACTS_PER_DEAL = 4


def _bench_database_url() -> str:
    base = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_bench")
    return base + "_hubspot"


def hubspot_sync_pairs(*, contacts: int = 200_000, naive_contacts: int = 10_000) -> list:
    """For bench/run.py: run this module in a subprocess on its own database; (ours, naive) pairs."""
    from bench.run import Measure

    env = {**os.environ, "DATABASE_URL": _bench_database_url(), "DJANGO_SETTINGS_MODULE": "crm.settings"}
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--contacts",
            str(contacts),
            "--naive-contacts",
            str(naive_contacts),
            "--json",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    _print(report)
    ours, naive = report["ours"], report["naive"]
    return [
        (
            Measure(f"HubSpot full sync, {ours['rows']:,} rows", [ours["seconds"]], ours["queries"]),
            Measure("naive", [naive["seconds"] * ours["rows"] / naive["rows"]], naive["queries"]),
        )
    ]


# --- the fake's generated portal -------------------------------------------------------------------
class _Ids(Sequence):
    def __init__(self, count: int) -> None:
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [str(i + 1) for i in range(*index.indices(self.count))]
        return str(index + 1)


def generated_store(contacts: int):
    from tests.fakes.hubspot_server import Store, iso

    modified = datetime(2026, 3, 1, tzinfo=UTC)
    calls, deals = contacts * CALLS_PER_CONTACT, contacts // CONTACTS_PER_DEAL

    class GeneratedStore(Store):
        """Records built from their id on demand: contact i, calls 2i-1 and 2i, deal i/4."""

        def __init__(self) -> None:
            super().__init__()
            self.counts = {"contacts": contacts, "calls": calls, "deals": deals, "tasks": 0}
            for n in range(OWNERS):
                self.owners[str(1000 + n)] = {
                    "id": str(1000 + n), "email": f"owner{n}@example.com", "firstName": f"Owner{n}",
                    "lastName": "Bench", "archived": False, "teams": [],
                }  # fmt: skip

        def ids(self, object_type, archived):
            return _Ids(0 if archived else self.counts[object_type])

        def get(self, object_type, record_id):
            i = int(record_id)
            if not 1 <= i <= self.counts[object_type]:
                return None
            when = iso(modified + timedelta(seconds=i))
            props = {"hs_object_id": record_id, "createdate": when, "hs_createdate": when,
                     "hubspot_owner_id": str(1000 + i % OWNERS)}  # fmt: skip
            history = {}
            if object_type == "contacts":
                props.update(
                    firstname=f"First{i}",
                    lastname=f"Last{i}",
                    email=f"lead{i}@example.com",
                    phone=f"050 {i % 10_000_000:07d}",
                    lifecyclestage="lead",
                    lastmodifieddate=when,
                )
                history["hubspot_owner_id"] = [
                    {"value": props["hubspot_owner_id"], "timestamp": when, "sourceType": "IMPORT"}
                ]
            elif object_type == "calls":
                props.update(hs_timestamp=when, hs_call_direction="OUTBOUND", hs_call_status="COMPLETED",
                             hs_call_duration=str(60_000 * (i % 7)),
                             hs_call_disposition="f240bbac-87c9-4f6e-bf70-924b57d47db7" if i % 3 else
                             "73a0d17f-1163-4015-bdd5-ec830791da20", hs_lastmodifieddate=when)  # fmt: skip
            elif object_type == "deals":
                props.update(dealname=f"Deal {i}", amount=str(1000 + i % 5000), pipeline="default",
                             dealstage="appointmentscheduled", hs_lastmodifieddate=when)  # fmt: skip
            return {"id": record_id, "properties": props, "createdAt": when, "updatedAt": when,
                    "archived": False, "history": history}  # fmt: skip

        def associated(self, from_type, record_id, to_type):
            i = int(record_id)
            if to_type != "contacts":
                return []
            if from_type == "calls":
                return [str((i + 1) // CALLS_PER_CONTACT)]
            if from_type == "deals":
                return [str(i * CONTACTS_PER_DEAL)]
            return []

    return GeneratedStore()


# --- the subprocess ------------------------------------------------------------------------------
def _setup_django() -> None:
    url = os.environ.get("DATABASE_URL") or _bench_database_url()
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuv")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


class _QueryCounter:
    """Counts SQL statements without keeping them (CaptureQueriesContext keeps the last 9,000)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def _empty() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE calls_callrecord, calls_intervention, leads_deal, leads_task, leads_ownerchange, "
            "leads_contact, hubspot_sync_synccursor, hubspot_sync_syncrun CASCADE"
        )


def _run_ours(contacts: int) -> dict:
    from django.db import connection

    from hubspot_sync import services
    from hubspot_sync.client import HubSpotClient

    _empty()
    client = HubSpotClient(requests_per_second=0, search_requests_per_second=0)
    samples: list[tuple[int, float]] = []
    seen = {"contacts": 0}

    def progress(stored: int, total) -> None:
        seen["contacts"] += stored
        if seen["contacts"] * 10 // contacts != (seen["contacts"] - stored) * 10 // contacts:
            samples.append((seen["contacts"], _rss_mb()))

    rss_before = _rss_mb()
    queries = _QueryCounter()
    with connection.execute_wrapper(queries):
        started = time.perf_counter()
        services.sync_run(object_type="owners", full=True, client=client)
        contact_run = services.sync_run(object_type="contacts", full=True, client=client, progress=progress)
        contacts_seconds = time.perf_counter() - started
        runs = [services.sync_run(object_type=t, full=True, client=client) for t in ("deals", "calls")]
        seconds = time.perf_counter() - started
    failed = [r.last_error for r in [contact_run, *runs] if r.status != "succeeded"]
    assert not failed, failed
    rows = contact_run.created + sum(r.created for r in runs)
    return {
        "rows": rows,
        "seconds": seconds,
        "contacts_seconds": contacts_seconds,
        "queries": queries.count,
        "requests": client.stats.requests,
        "rss_before_mb": rss_before,
        "rss_samples": samples,
        "rss_after_mb": _rss_mb(),
    }


def _run_naive(contacts: int) -> dict:
    """The same records stored one row at a time: update_or_create per record, a contact lookup
    per call and deal, then the facts of the contacts touched."""
    from django.db import connection

    from calls.models import CallSource
    from calls.services import contact_facts_rebuild
    from hubspot_sync import mapping
    from hubspot_sync.client import HubSpotClient
    from hubspot_sync.upserts import SyncContext, _contact_values
    from leads.models import Contact, Deal, Owner

    _empty()
    client = HubSpotClient(requests_per_second=0, search_requests_per_second=0)
    ctx = SyncContext(client)
    rows = 0
    queries = _QueryCounter()
    with connection.execute_wrapper(queries):
        started = time.perf_counter()
        for page in client.pages(lambda after: client.owners_page(after=after)):
            for record in page.results:
                Owner.objects.update_or_create(hubspot_id=record["id"], defaults=mapping.owner_fields(record))
        touched = set()
        limits = {
            "contacts": contacts,
            "deals": contacts // CONTACTS_PER_DEAL,
            "calls": contacts * CALLS_PER_CONTACT,
        }
        for object_type, limit in limits.items():
            done = 0
            fetch = lambda after, t=object_type: client.list_page(  # noqa: E731
                t,
                properties=mapping.PROPERTIES[t],
                after=after,
                associations=[] if t == "contacts" else ["contacts"],
            )
            for page in client.pages(fetch):
                for record in page.results[: limit - done]:
                    owner = Owner.objects.filter(hubspot_id=mapping.owner_id_of(record)).first()
                    if object_type == "contacts":
                        values = _contact_values(record, {})
                        values["owner_id"] = owner.pk if owner else None
                        Contact.objects.update_or_create(hubspot_id=record["id"], defaults=values)
                    else:
                        contact_hubspot_id = record["associations"]["contacts"]["results"][0]["id"]
                        contact = Contact.objects.get(hubspot_id=contact_hubspot_id)
                        touched.add(contact.pk)
                        if object_type == "deals":
                            values = mapping.deal_fields(record, ctx.stages)
                            Deal.objects.update_or_create(
                                hubspot_id=record["id"],
                                defaults={**values, "contact": contact, "owner": owner},
                            )
                        else:
                            values = mapping.call_fields(record, ctx.dispositions)
                            contact.calls.update_or_create(
                                source=CallSource.HUBSPOT,
                                external_id=record["id"],
                                defaults={**values, "owner": owner},
                            )
                    rows += 1
                    done += 1
                if done >= limit:
                    break
        contact_facts_rebuild(contact_ids=sorted(touched))
        seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds, "queries": queries.count}


def _run_limited(base_url: str, contacts: int) -> dict:
    """A full sync against the rate-limited fake with the client's default budgets, in real time:
    how close it keeps to HubSpot's bound of 10 requests a second without running into it."""
    from django.conf import settings

    from hubspot_sync import services
    from hubspot_sync.client import HubSpotClient

    _empty()
    settings.HUBSPOT_API_BASE = base_url
    client = HubSpotClient()  # the configured budgets (HUBSPOT_REQUESTS_PER_SECOND, default 9)
    started = time.perf_counter()
    runs = services.sync_all(full=True, client=client, object_types=["owners", "contacts", "deals", "calls"])
    seconds = time.perf_counter() - started
    failed = [r.last_error for r in runs if r.status != "succeeded"]
    assert not failed, failed
    return {
        "rows": sum(r.created for r in runs if r.object_type != "owners"),
        "seconds": seconds,
        "requests": client.stats.requests,
        "rate_limited": client.stats.rate_limited,
        "budget_per_second": settings.HUBSPOT_REQUESTS_PER_SECOND,
    }


def _print(report: dict) -> None:
    ours, naive = report["ours"], report["naive"]
    ours_rate, naive_rate = ours["rows"] / ours["seconds"], naive["rows"] / naive["seconds"]
    print(
        f"HubSpot full sync from the local fake (rate limits off): {ours['rows']:,} rows "
        f"({report['contacts']:,} contacts, their calls and deals) in {ours['seconds']:.1f} s = "
        f"{ours_rate:,.0f} rows/s ({ours['requests']:,} HTTP requests, {ours['queries']:,} SQL queries); "
        f"contacts alone {ours['contacts_seconds']:.1f} s."
    )
    print(
        f"  one row at a time (update_or_create per record), on {naive['rows']:,} rows: "
        f"{naive_rate:,.0f} rows/s ({naive['queries'] / naive['rows']:.1f} queries a row) -> "
        f"batched is {ours_rate / naive_rate:.1f}x faster."
    )
    samples = ", ".join(f"{n:,}: {mb:.0f} MB" for n, mb in ours["rss_samples"])
    print(
        f"  resident memory as contact pages came (contacts stored: RSS): {samples}; "
        f"after all: {ours['rss_after_mb']:.0f} MB."
    )
    limited = report.get("limited")
    if limited:
        print(
            f"  with HubSpot's rate limits on (100 requests per 10 s), {report['limited_contacts']:,} "
            f"contacts: {limited['rows']:,} rows in {limited['seconds']:.1f} s = "
            f"{limited['rows'] / limited['seconds']:,.0f} rows/s; {limited['requests']:,} requests = "
            f"{limited['requests'] / limited['seconds']:.2f} a second against the bound of 10.00 "
            f"(budget {limited['budget_per_second']:g}); 429s received: {limited['rate_limited']}, "
            f"refused by the fake's limiter: {limited['refused']}."
        )


def _serve_fake(contacts: int, ready, stop, limited: bool = False) -> None:
    """The fake in a process of its own: HubSpot's work (building and encoding pages) must not
    compete with the sync for this process's interpreter lock, nor count in its memory. `limited`:
    with HubSpot's rate limits (100 requests per rolling 10 s, 5 searches a second)."""
    sys.path.insert(0, str(ROOT))
    from tests.fakes.hubspot_server import FakeHubSpot

    limits = {"ten_secondly_limit": 100, "search_per_second": 5} if limited else {
        "ten_secondly_limit": None, "search_per_second": None}  # fmt: skip
    with FakeHubSpot(token="bench", store=generated_store(contacts), **limits) as fake:
        ready.put(fake.base_url)
        stop.wait()
        ready.put(len(fake.rate_limited))  # how often the sync ran into the fake's own limit


def main() -> None:
    import multiprocessing

    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--naive-contacts", type=int, default=10_000)
    parser.add_argument(
        "--limited-contacts", type=int, default=2_500, help="contacts of the rate-limited run (0: skip it)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as one JSON line")
    args = parser.parse_args()
    spawn = multiprocessing.get_context("spawn")  # before Django and its connections exist here
    ready, stop = spawn.Queue(), spawn.Event()
    server = spawn.Process(target=_serve_fake, args=(args.contacts, ready, stop), daemon=True)
    server.start()
    base_url = ready.get(timeout=60)
    _setup_django()
    from django.conf import settings
    from django.db import connection

    assert connection.vendor == "postgresql", "the benchmark runs on PostgreSQL"
    settings.HUBSPOT_API_BASE = base_url
    settings.HUBSPOT_ACCESS_TOKEN = "bench"
    settings.HUBSPOT_OWNER_CHANGE_INTERVENTION = False
    try:
        ours = _run_ours(args.contacts)
        naive = _run_naive(args.naive_contacts)
    finally:
        stop.set()
        server.join(timeout=10)
    report = {"contacts": args.contacts, "ours": ours, "naive": naive}
    if args.limited_contacts:
        ready, stop = spawn.Queue(), spawn.Event()
        server = spawn.Process(
            target=_serve_fake, args=(args.limited_contacts, ready, stop, True), daemon=True
        )
        server.start()
        try:
            report["limited"] = _run_limited(ready.get(timeout=60), args.limited_contacts)
        finally:
            stop.set()
            report["limited"]["refused"] = ready.get(timeout=10) if "limited" in report else None
            server.join(timeout=10)
        report["limited_contacts"] = args.limited_contacts
    if args.json:
        print(json.dumps(report))
    else:
        _print(report)


if __name__ == "__main__":
    main()
