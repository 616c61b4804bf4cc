"""The follow-up table at the reference size (SPEC S3, S12), beside the naive way.

Ours: real requests through the view (Django's test client, so routing, middleware, queries and
template are all in the figure) for a manager over all 200,000 contacts: the first page, a
filtered page (one setter + going cold), a page sorted by days since contact, the summary cards
and the setter panel (the htmx fragments a click asks for), and the CSV export of every row
(time, and resident memory while it streams; in a process of its own, after the pages).

The naive way (what the spreadsheet's SQL view did): every request derives each contact's latest
call and call counts from all the call records, then flags, ranks, counts and pages in Python.

    python bench/follow_up.py [--runs 20] [--naive-runs 3]      # this part alone
    bench/run.py calls follow_up_pairs()
"""

import argparse
import csv
import io
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

HTMX = {"HX-Request": "true"}


def naive_follow_up(*, owner_id=None, flag: str | None = None, sort: str = "priority", what: str = "page"):
    """Flags, priority and a page (what="page"; "all": every row, "cards", "panel") computed the
    naive way."""
    from django.db.models import Count, Max, Q

    from calls.models import CallRecord, CallStatus, Direction
    from crm import timeutils
    from leads.models import FOLLOW_UP_STAGES, Contact
    from scoring.follow_up import COACHED_STAGES, COLD_STAGES

    now = timeutils.now()
    per_contact = {
        row["contact_id"]: row
        for row in CallRecord.objects.values("contact_id")
        .annotate(
            last=Max("started_at"),
            outgoing=Count("id", filter=Q(direction=Direction.OUTBOUND)),
            answered=Count("id", filter=Q(status=CallStatus.ANSWERED)),
        )
        .order_by()
    }
    contacts = Contact.objects.filter(
        is_archived=False, merged_into__isnull=True, lifecycle_stage__in=FOLLOW_UP_STAGES
    )
    if owner_id is not None:
        contacts = contacts.filter(owner_id=owner_id)
    today = timeutils.business_today()
    rows = []
    for contact in contacts.only(
        "id",
        "owner_id",
        "lifecycle_stage",
        "assigned_coach",
        "hs_created_at",
        "created_at",
        "next_task_due_at",
        "open_deal_amount",
        "first_name",
        "last_name",
    ).iterator(chunk_size=5000):
        facts = per_contact.get(contact.pk, {})
        last = facts.get("last")
        since = last or contact.hs_created_at or contact.created_at
        days = (today - timeutils.timezone.localdate(since)).days
        cold = contact.lifecycle_stage in COLD_STAGES and days > 7
        overdue = bool(contact.next_task_due_at and contact.next_task_due_at < now)
        never = last is None
        coachless = contact.lifecycle_stage in COACHED_STAGES and not contact.assigned_coach
        deal = contact.open_deal_amount
        if (cold and deal and deal > Decimal(10_000)) or overdue or never:
            priority = 1
        elif (last and days >= 3) or (coachless and deal is not None):
            priority = 2
        else:
            priority = 3
        flags = {"going_cold": cold, "overdue_task": overdue, "no_calls": never, "missing_coach": coachless}
        rows.append((priority, last, contact.pk, contact.owner_id, flags, facts, contact))
    if what == "cards":
        counts = Counter(r[0] for r in rows)
        return counts, sum(r[4]["going_cold"] for r in rows), sum(r[4]["missing_coach"] for r in rows)
    if what == "panel":
        start, _ = timeutils.today_range()
        panel = Counter()
        for r in rows:
            panel[(r[3], "leads")] += 1
            panel[(r[3], "cold")] += r[4]["going_cold"]
            panel[(r[3], "overdue")] += r[4]["overdue_task"]
            panel[(r[3], "today")] += bool(r[1] and r[1] >= start)
        return panel
    if flag:
        rows = [r for r in rows if r[4][flag]]
    epoch = now - timedelta(days=10_000)
    if sort == "-days":
        rows.sort(key=lambda r: (r[1] or epoch, r[2]))
    else:
        rows.sort(key=lambda r: (r[0], r[1] or epoch, r[2]))
    return rows if what == "all" else rows[:50]


def _rss_mb() -> float:
    """This process's resident memory now (Linux), in MB."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def _export(client, *, sample_every: int = 20_000) -> tuple[int, int, float, float, float]:
    """Consume the whole CSV export as a browser would: rows, bytes, seconds, resident memory
    before and the highest seen while it streamed (sampled every `sample_every` rows)."""
    before = peak = _rss_mb()
    started = time.perf_counter()
    response = client.get("/follow-up/", {"format": "csv"})
    assert response.status_code == 200 and response.streaming
    size = lines = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        lines += 1
        if lines % sample_every == 0:
            peak = max(peak, _rss_mb())
    seconds = time.perf_counter() - started
    return lines - 1, size, seconds, before, max(peak, _rss_mb())


def follow_up_pairs(*, runs: int = 20, naive_runs: int = 3, export: bool = True) -> list:
    """(ours, naive) Measure pairs for bench/run.py; prints the CSV export's time and memory (one
    run each: a whole export takes tens of seconds)."""
    from django.contrib.auth import get_user_model
    from django.db.models import Count
    from django.test import Client

    from bench.run import ok, paired, uncached
    from leads.models import Contact

    manager = get_user_model().objects.get(username="manager")
    client = Client()
    client.force_login(manager)
    # The busiest setter: the filtered page then holds the most rows one setter can have.
    busiest = (
        Contact.objects.values("owner_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .values_list("owner_id", flat=True)[0]
    )

    def table(params: dict):
        # As the browser asks after a click on the unfiltered page (htmx names the page it is on,
        # so a new setter brings that setter's cards along).
        headers = {**HTMX, "HX-Target": "follow-up-table", "HX-Current-URL": "http://testserver/follow-up/"}
        return lambda: ok(client.get("/follow-up/", params, headers=headers))

    def fragment(target: str):
        return lambda: ok(client.get("/follow-up/", headers={**HTMX, "HX-Target": target}))

    def pair(name, ours, naive):
        return paired(name, ours, naive, runs=runs, naive_runs=naive_runs)

    def busiest_going_cold():
        return naive_follow_up(owner_id=busiest, flag="going_cold")

    pairs = [
        pair("follow-up first page (manager)", lambda: ok(client.get("/follow-up/")), naive_follow_up),
        pair(
            "follow-up setter + going cold",
            table({"setter": busiest, "flag": "going_cold"}),
            busiest_going_cold,
        ),
        pair(
            "  the same, no row cached",
            uncached(table({"setter": busiest, "flag": "going_cold"})),
            busiest_going_cold,
        ),
        pair(
            "follow-up sorted by days since contact",
            table({"sort": "-days"}),
            lambda: naive_follow_up(sort="-days"),
        ),
        pair("follow-up summary cards", fragment("follow-up-cards"), lambda: naive_follow_up(what="cards")),
        pair("follow-up setter panel", fragment("follow-up-panel"), lambda: naive_follow_up(what="panel")),
    ]
    if export:
        # In a process of its own: its memory is then the export's own, and the 200 MB the
        # naive export builds does not slow the pages measured in this one.
        subprocess.run([sys.executable, __file__, "--export-only"], check=True)
    return pairs


def export_report() -> None:
    """Time the CSV export of every row, and its resident memory, beside the naive export."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from bench.run import ok

    client = Client()
    client.force_login(get_user_model().objects.get(username="manager"))
    ok(client.get("/follow-up/"))  # one page first, so templates and code are loaded
    rows, size, seconds, before, peak = _export(client)
    print(
        f"Follow-up CSV export of all {rows:,} rows ({size / 1e6:.1f} MB, streamed): {seconds:.1f} s; "
        f"resident memory {before:.0f} MB before, at most {peak:.0f} MB while streaming "
        f"(+{peak - before:.0f} MB, read 2,000 rows at a time).",
        flush=True,
    )
    before = _rss_mb()
    started = time.perf_counter()
    _naive_all_csv()
    print(
        f"  naive export (every row built in memory first): {time.perf_counter() - started:.1f} s, "
        f"resident memory +{_rss_mb() - before:.0f} MB.",
        flush=True,
    )


def _naive_all_csv() -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in naive_follow_up(what="all"):
        writer.writerow([row[2], row[0], row[5].get("outgoing", 0), row[6].full_name])


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import bench.run  # sets up Django on the benchmark database, as `make bench` does

    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--naive-runs", type=int, default=3)
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--export-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_only:
        export_report()
        return
    bench.run.ensure_reference_data()
    bench.run.vacuum_busy_tables()
    pairs = follow_up_pairs(runs=args.runs, naive_runs=args.naive_runs, export=not args.no_export)
    print()
    print(f"{'':40} {'median':>9} {'p95':>9} {'queries':>8} │ {'naive median':>12} │ {'ratio':>6}")
    for ours, naive in pairs:
        print(
            f"{ours.name:40} {ours.median:7.1f}ms {ours.p95:7.1f}ms {ours.queries:8d} │ "
            f"{naive.median:10.1f}ms │ {naive.median / ours.median:5.0f}x"
        )


if __name__ == "__main__":
    main()
