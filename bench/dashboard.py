"""The manager dashboard at the reference size (SPEC S4, S12), beside the naive way.

Ours: real requests through the home view (Django's test client: routing, middleware, queries and
template in the figure) for a manager over all 200,000 contacts: the whole page, each htmx
fragment, the two Explain answers (computed wording, no AI), a setter's own day, and "Generate
smart actions" (rolled back). Also timed once: the daily snapshot job (a first run backfills
90 days from the health-score history; a second run the same day only rewrites today).

The naive way (what the original dashboard's client code did): read every call, every health
score and every contact, and add up the figures in Python.

    python bench/dashboard.py [--runs 20] [--naive-runs 3] [--explain]   # this part alone
    bench/run.py calls dashboard_pairs()
"""

import argparse
import sys
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

HTMX = {"HX-Request": "true"}
FRAGMENTS = ("not-reached", "revenue", "bookings", "owner-changes", "interventions", "rates")


def naive_dashboard(days: int = 7) -> dict:
    """Every figure of the dashboard from all the rows, summed in Python."""
    from django.conf import settings

    from calls.models import CallOutcome, CallRecord
    from crm import timeutils
    from leads.models import FOLLOW_UP_STAGES, Contact, HealthScore

    boundary = timeutils.days_ago_boundary(days)
    last_call: dict[int, object] = {}
    bookings: dict[int, list] = defaultdict(list)
    for contact_id, owner_id, started_at, outcome in CallRecord.objects.values_list(
        "contact_id", "owner_id", "started_at", "outcome"
    ).iterator(chunk_size=10_000):
        if contact_id not in last_call or started_at > last_call[contact_id]:
            last_call[contact_id] = started_at
        if outcome == CallOutcome.BOOKED:
            bookings[owner_id].append(started_at)
    latest_health: dict[int, tuple] = {}
    for contact_id, computed_at, value in HealthScore.objects.values_list(
        "contact_id", "computed_at", "package_value"
    ).iterator(chunk_size=10_000):
        if contact_id not in latest_health or computed_at > latest_health[contact_id][0]:
            latest_health[contact_id] = (computed_at, value)
    not_reached: dict[int, int] = defaultdict(int)
    revenue = Decimal(0)
    for pk, owner_id, stage, risk, archived, merged, dnc in Contact.objects.values_list(
        "pk",
        "owner_id",
        "lifecycle_stage",
        "predictive_risk",
        "is_archived",
        "merged_into_id",
        "do_not_contact",
    ).iterator(chunk_size=10_000):
        if archived or merged:
            continue
        if risk is not None and risk >= settings.REVENUE_AT_RISK_MIN_RISK and pk in latest_health:
            revenue += latest_health[pk][1]
        if not dnc and stage in FOLLOW_UP_STAGES and (pk not in last_call or last_call[pk] < boundary):
            not_reached[owner_id] += 1
    week_start, _ = timeutils.this_week_range()
    booked_this_week = {
        owner: sum(1 for at in times if at >= week_start) for owner, times in bookings.items()
    }
    return {"not_reached": not_reached, "revenue": revenue, "bookings": booked_this_week}


def dashboard_pairs(*, runs: int = 20, naive_runs: int = 3) -> list:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from bench.run import Measure, measure, ok
    from leads.models import Owner
    from scoring.snapshots import revenue_snapshots_take

    started = time.perf_counter()
    first = revenue_snapshots_take()
    first_seconds = time.perf_counter() - started
    started = time.perf_counter()
    revenue_snapshots_take()
    again_seconds = time.perf_counter() - started
    print(
        f"Daily revenue snapshot: first run {first_seconds:.2f} s ({first.backfilled} days rebuilt from "
        f"history), a second run the same day {again_seconds:.2f} s.",
        flush=True,
    )

    users = get_user_model().objects
    manager, setter = Client(), Client()
    manager.force_login(users.get(username="manager"))
    setter.force_login(users.get(username="setter"))
    owner = Owner.objects.get(user__username="setter")

    def naive() -> Measure:
        return measure("naive", naive_dashboard, min(naive_runs, 2))  # tens of seconds a run

    naive_figures = naive()
    pairs = [(measure("dashboard page, all owners", lambda: ok(manager.get("/")), runs), naive_figures)]
    for target in FRAGMENTS:
        pairs.append(
            (
                measure(
                    f"  fragment #{target}",
                    lambda target=target: ok(manager.get("/", headers={**HTMX, "HX-Target": target})),
                    runs,
                ),
                naive_figures,
            )
        )
    explain = {**HTMX, "HX-Target": "explanation"}
    pairs += [
        (
            measure(
                "explain revenue change (computed)",
                lambda: ok(manager.get("/?explain=revenue", headers=explain)),
                runs,
            ),
            naive_figures,
        ),
        (
            measure(
                "explain an owner's day (computed)",
                lambda: ok(manager.get(f"/?explain=owner&owner={owner.pk}", headers=explain)),
                runs,
            ),
            naive_figures,
        ),
        (measure("setter's own day", lambda: ok(setter.get("/")), runs), naive_figures),
        (
            measure(
                "generate 10 smart actions (rolled back)",
                lambda: ok(manager.post("/interventions/generate/", {"limit": 10}, headers=HTMX)),
                max(3, runs // 4),
                rollback=True,
            ),
            naive_figures,
        ),
    ]
    return pairs


def explain_plans() -> None:
    """EXPLAIN ANALYZE of the dashboard's queries that touch the call records and health history,
    to show none of them reads all of either."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import Count, Q

    from calls.models import CallOutcome, CallRecord
    from crm import timeutils
    from leads import dashboard
    from scoring.snapshots import counted_contacts, latest_package_value

    manager = get_user_model().objects.get(username="manager")
    yesterday_start, today_start = timeutils.yesterday_range()
    week_start, week_end = timeutils.this_week_range()

    bookings = (
        CallRecord.objects.filter(
            outcome=CallOutcome.BOOKED,
            started_at__gte=min(yesterday_start, week_start),
            started_at__lt=week_end,
            owner__isnull=False,
        )
        .values("owner_id")
        .annotate(
            yesterday=Count("pk", filter=Q(started_at__gte=yesterday_start, started_at__lt=today_start)),
            week=Count("pk", filter=Q(started_at__gte=week_start, started_at__lt=week_end)),
        )
        .order_by()
    )
    revenue = (
        counted_contacts()
        .filter(predictive_risk__gte=settings.REVENUE_AT_RISK_MIN_RISK)
        .annotate(v=latest_package_value())
        .values("v")
    )
    queries = {
        "bookings by owner (CallRecord)": bookings,
        "revenue at risk now (HealthScore per contact)": revenue,
        "leads not reached per owner (Contact)": dashboard.workable_contacts(manager)
        .filter(dashboard.not_contacted_since(7))
        .values("owner_id")
        .annotate(n=Count("pk"))
        .order_by(),
    }
    with connection.cursor() as cursor:
        for name, queryset in queries.items():
            sql, params = queryset.query.sql_with_params()
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}", params)
            print(f"\n--- {name}")
            for (line,) in cursor.fetchall():
                print(line)


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import bench.run  # sets up Django on the benchmark database, as `make bench` does

    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--naive-runs", type=int, default=3)
    parser.add_argument("--explain", action="store_true", help="print the plans of the call/health queries")
    args = parser.parse_args()
    bench.run.ensure_reference_data()
    bench.run.vacuum_busy_tables()
    if args.explain:
        explain_plans()
        return
    pairs = dashboard_pairs(runs=args.runs, naive_runs=args.naive_runs)
    print()
    print(f"{'':40} {'median':>9} {'p95':>9} {'queries':>8} │ {'naive median':>12} │ {'ratio':>6}")
    for ours, naive in pairs:
        print(
            f"{ours.name:40} {ours.median:7.1f}ms {ours.p95:7.1f}ms {ours.queries:8d} │ "
            f"{naive.median:10.1f}ms │ {naive.median / ours.median:5.0f}x"
        )


if __name__ == "__main__":
    main()
