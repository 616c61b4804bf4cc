"""Revenue at risk on past days and the daily snapshot job: one row per day, however often it
runs, past days rebuilt from health-score history with Dubai's day boundaries."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from crm.schedules import DEFAULT_SCHEDULES
from leads.models import LifecycleStage
from leads.services import health_score_record
from scoring.models import RevenueAtRiskSnapshot, SnapshotSource
from scoring.snapshots import revenue_at_risk_on_days, revenue_snapshots_take
from scoring.tasks import take_revenue_snapshot_task
from tests.factories import ContactFactory
from tests.support import wait_for

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # 14:00 Dubai, 10 March


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.TIME_ZONE = "Asia/Dubai"
    settings.REVENUE_AT_RISK_MIN_RISK = 60


def _history():
    """Three clients whose risk moves across the threshold on known days:
    day (Dubai)  3  4  5     6     7     8     9      10 (now)
    rising       -  -  -     -     -     -     12,000 12,000
    steady       -  -  5,000 5,000 5,000 5,000 5,000  5,000
    brief        -  -  -     -     3,000 -     -      -
    """
    clients = [ContactFactory(lifecycle_stage=LifecycleStage.CUSTOMER) for _ in range(3)]
    rising, steady, brief = clients
    health_score_record(
        contact=rising, score=50, predictive_risk=50, package_value=Decimal(10_000), computed_at=utc(1, 6)
    )
    health_score_record(
        contact=rising, score=30, predictive_risk=70, package_value=Decimal(12_000), computed_at=utc(9, 8)
    )
    # 23:30 Dubai on 5 March: counts at the end of the 5th.
    health_score_record(
        contact=steady, score=40, predictive_risk=60, package_value=Decimal(5_000), computed_at=utc(5, 19, 30)
    )
    # 00:30 Dubai on 7 March (still the 6th in UTC): counts from the end of the 7th, not the 6th.
    health_score_record(
        contact=brief, score=20, predictive_risk=80, package_value=Decimal(3_000), computed_at=utc(6, 20, 30)
    )
    health_score_record(
        contact=brief, score=60, predictive_risk=40, package_value=Decimal(3_000), computed_at=utc(8, 10)
    )
    archived = ContactFactory(lifecycle_stage=LifecycleStage.CUSTOMER, is_archived=True)
    health_score_record(
        contact=archived, score=5, predictive_risk=99, package_value=Decimal(40_000), computed_at=utc(2, 6)
    )
    return clients


EXPECTED = {
    date(2026, 3, 3): (0, 0),
    date(2026, 3, 4): (0, 0),
    date(2026, 3, 5): (5_000, 1),
    date(2026, 3, 6): (5_000, 1),
    date(2026, 3, 7): (8_000, 2),
    date(2026, 3, 8): (5_000, 1),
    date(2026, 3, 9): (17_000, 2),
}


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_revenue_at_risk_on_past_days_follows_each_clients_score_at_the_end_of_the_business_day():
    _history()

    days = revenue_at_risk_on_days(date(2026, 3, 3), date(2026, 3, 9))

    assert {day: (figure.amount, figure.clients) for day, figure in days.items()} == EXPECTED


@pytest.mark.django_db
def test_snapshot_job_twice_a_day_keeps_one_row_per_day_and_never_rewrites_the_past():
    with time_machine.travel(NOW, tick=False):
        _, steady, _ = _history()
        # A live snapshot taken on the 8th (by an earlier run) stands: backfill never overwrites it.
        RevenueAtRiskSnapshot.objects.create(
            day=date(2026, 3, 8),
            revenue_at_risk=Decimal(4_321),
            clients_at_risk=1,
            min_risk=60,
            source=SnapshotSource.LIVE,
            taken_at=utc(8, 19),
        )

        first = revenue_snapshots_take(backfill_days=7)

        assert (first.today.amount, first.today.clients, first.backfilled) == (Decimal(17_000), 2, 6)
        rows = {
            s.day: (s.revenue_at_risk, s.clients_at_risk, s.source)
            for s in RevenueAtRiskSnapshot.objects.all()
        }
        expected = {day: (Decimal(a), n, SnapshotSource.BACKFILL) for day, (a, n) in EXPECTED.items()}
        expected[date(2026, 3, 8)] = (Decimal(4_321), 1, SnapshotSource.LIVE)
        expected[date(2026, 3, 10)] = (Decimal(17_000), 2, SnapshotSource.LIVE)
        assert rows == expected

    # Later the same business day (22:00 Dubai): one client recovered.
    with time_machine.travel(utc(10, 18), tick=False):
        health_score_record(contact=steady, score=80, predictive_risk=20, package_value=Decimal(5_000))

        second = revenue_snapshots_take(backfill_days=7)

        assert second.backfilled == 0
        assert RevenueAtRiskSnapshot.objects.count() == 8
        today = RevenueAtRiskSnapshot.objects.get(day=date(2026, 3, 10))
        assert (today.revenue_at_risk, today.clients_at_risk, today.taken_at) == (
            Decimal(12_000),
            1,
            utc(10, 18),
        )
        assert RevenueAtRiskSnapshot.objects.get(day=date(2026, 3, 9)).revenue_at_risk == Decimal(17_000)


def test_snapshot_job_is_on_the_default_beat_schedule():
    (entry,) = [s for s in DEFAULT_SCHEDULES if s.task == "scoring.take_revenue_snapshot"]
    assert entry.expires_seconds < 24 * 3600


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_snapshot_task_runs_on_a_real_worker_and_a_second_run_the_same_day_adds_nothing(celery_worker):
    # given a client at risk (committed, so the worker sees it) and this morning's run done here
    client = ContactFactory(lifecycle_stage=LifecycleStage.CUSTOMER)
    health_score_record(
        contact=client,
        score=25,
        predictive_risk=85,
        package_value=Decimal(8_000),
        computed_at=timezone.now() - timedelta(days=3),
    )
    revenue_snapshots_take(backfill_days=5)
    today = timezone.localdate()
    assert RevenueAtRiskSnapshot.objects.get(day=today).revenue_at_risk == Decimal(8_000)
    rows = RevenueAtRiskSnapshot.objects.count()
    # the package grows; when the task goes through Redis to the worker
    health_score_record(contact=client, score=20, predictive_risk=90, package_value=Decimal(9_500))
    take_revenue_snapshot_task.delay()
    # then today's row is updated in place and no other row appears
    assert wait_for(lambda: RevenueAtRiskSnapshot.objects.get(day=today).revenue_at_risk == Decimal(9_500))
    assert RevenueAtRiskSnapshot.objects.count() > rows  # the worker backfills its longer window once
    total = RevenueAtRiskSnapshot.objects.count()
    taken = RevenueAtRiskSnapshot.objects.get(day=today).taken_at
    take_revenue_snapshot_task.delay()
    assert wait_for(lambda: RevenueAtRiskSnapshot.objects.get(day=today).taken_at > taken)
    assert RevenueAtRiskSnapshot.objects.count() == total
    assert RevenueAtRiskSnapshot.objects.filter(day=today).count() == 1
