"""seed_demo: the generated world is consistent, reproducible and has what the pages need."""

import re
from datetime import datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.test import Client
from django.utils import timezone

from calls.models import CallOutcome, CallRecord, CallStatus, Intervention, InterventionStatus
from calls.services import (
    CONTACT_FACT_FIELDS,
    contact_facts_rebuild,
    owner_rhythms_refresh,
    pattern_breaks_detect,
)
from crm import timeutils
from crm.roles import MANAGER, OPS, SETTER
from leads import demo
from leads.models import (
    OPEN_TASK_STATUSES,
    Contact,
    Deal,
    HealthScore,
    LifecycleStage,
    Owner,
    OwnerChange,
    PatternStatus,
    Task,
    Zone,
)
from leads.services import health_zone_for

pytestmark = pytest.mark.django_db

CONTACTS = 300
SEED = 7
E164_UAE = re.compile(r"^\+971\d{8,9}$")


@pytest.fixture(autouse=True)
def development(settings):
    """seed_demo is a development command: it refuses to run without DEBUG (tested below)."""
    settings.DEBUG = True


@pytest.fixture
def now():
    """A Wednesday afternoon in the business zone, frozen: the world depends on "now"."""
    moment = timezone.make_aware(datetime(2026, 3, 11, 14, 30))
    with time_machine.travel(moment, tick=False):
        yield moment


def seed(**options) -> str:
    out = StringIO()
    options = {"contacts": CONTACTS, "seed": SEED, "verbosity": 0, **options}
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def signs_in(username: str, password: str) -> bool:
    """Through the sign-in page, as a person would (and as login throttling sees it)."""
    response = Client().post("/login/", {"username": username, "password": password})
    return response.status_code == 302


@pytest.fixture
def world(now):
    seed()
    return now


def snapshot_facts() -> list[tuple]:
    return list(Contact.objects.order_by("pk").values_list("pk", *CONTACT_FACT_FIELDS, "pattern_status"))


def test_seed_demo_contact_facts_equal_what_the_rebuild_computes(world):
    # given
    seeded = snapshot_facts()
    # when
    contact_facts_rebuild(batch_size=97)
    # then
    assert snapshot_facts() == seeded
    assert Contact.objects.filter(call_count__gt=0).count() > CONTACTS // 2


def test_seed_demo_pattern_status_is_what_detection_concludes(world):
    result = pattern_breaks_detect(now=world)

    assert result.changed == 0
    assert result.breaks > 0 and result.on_track > 0


def test_seed_demo_owner_rhythms_are_what_the_hourly_job_computes(world):
    assert owner_rhythms_refresh(now=world) == 0
    assert Owner.objects.exclude(usual_call_weekdays=[]).exists()


def test_seed_demo_calls_belong_to_contacts_and_happened_in_business_hours(world):
    calls = CallRecord.objects.all()

    assert calls.count() == pytest.approx(CONTACTS * 10, rel=0.2)
    assert not calls.exclude(contact_id__in=Contact.objects.values("pk")).exists()
    assert not calls.filter(started_at__gte=world).exists()
    assert not calls.filter(started_at__lt=world - timedelta(days=91)).exists()
    for started_at in calls.values_list("started_at", flat=True):
        local = timezone.localtime(started_at)
        assert local.isoweekday() != 7 and 9 <= local.hour < 19
    # Conversation outcomes only on answered calls (also a check constraint).
    conversations = [CallOutcome.CONNECTED, CallOutcome.BOOKED, CallOutcome.NOT_INTERESTED]
    assert not calls.filter(outcome__in=conversations).exclude(status=CallStatus.ANSWERED).exists()
    assert set(calls.values_list("status", flat=True)) == set(CallStatus.values)
    assert not calls.filter(source="hubspot", external_id="").exists()


def test_seed_demo_rows_satisfy_the_database_constraints(world):
    # Check constraints are checked on insert; foreign keys are deferred, so check them now.
    connection.check_constraints()

    assert not Deal.objects.filter(is_won=True, is_closed=False).exists()
    assert (
        not Deal.objects.exclude(amount__isnull=True)
        .filter(Q(amount__lt=2_000) | Q(amount__gt=60_000))
        .exists()
    )
    assert not Task.objects.filter(completed_at__isnull=False).exclude(status="COMPLETED").exists()
    done = Intervention.objects.filter(status=InterventionStatus.DONE)
    assert not done.filter(outcome="").exists()
    assert not Intervention.objects.exclude(status=InterventionStatus.DONE).exclude(outcome="").exists()
    assert set(done.values_list("outcome", flat=True)) == {"success", "partial", "failed"}
    merged = Contact.objects.filter(merged_into__isnull=False)
    assert merged.exists() and not merged.filter(merged_into__merged_into__isnull=False).exists()


def test_seed_demo_current_health_is_the_newest_health_score(world):
    newest = HealthScore.objects.filter(contact=OuterRef("pk")).order_by("-computed_at")
    clients = Contact.objects.filter(Exists(newest)).annotate(
        score=Subquery(newest.values("score")[:1]),
        zone=Subquery(newest.values("zone")[:1]),
        risk=Subquery(newest.values("predictive_risk")[:1]),
        pattern=Subquery(newest.values("pattern_status")[:1]),
        end=Subquery(newest.values("package_end_date")[:1]),
        sessions=Subquery(newest.values("sessions_left")[:1]),
    )
    rows = list(
        clients.values_list(
            "health_score", "score", "health_zone", "zone", "predictive_risk", "risk", "pattern_status",
            "pattern", "package_end_date", "end", "sessions_left", "sessions",
        )
    )  # fmt: skip

    assert rows
    for row in rows:
        assert row[0::2] == row[1::2]
        assert row[2] == health_zone_for(row[0])
    assert {row[2] for row in rows} == set(Zone.values)
    assert HealthScore.objects.count() >= 3 * len(rows)
    assert not HealthScore.objects.filter(computed_at__gt=world).exists()
    assert not Contact.objects.filter(health_scores__isnull=True).exclude(health_zone="").exists()


def test_seed_demo_owner_changes_end_with_the_current_owner(world):
    changed = Contact.objects.filter(owner_changed_at__isnull=False)

    assert changed.exists()
    for contact in changed:
        newest = OwnerChange.objects.filter(contact=contact).order_by("-changed_at").first()
        assert (newest.changed_at, newest.to_owner_id) == (contact.owner_changed_at, contact.owner_id)
    assert not Contact.objects.filter(owner_changed_at__isnull=True, owner_changes__isnull=False).exists()
    assert OwnerChange.objects.filter(changed_at__gte=world - timedelta(days=7)).exists()


def test_seed_demo_phones_are_e164_unless_flagged_invalid(world):
    valid = list(Contact.objects.filter(phone_is_valid=True).values_list("phone", flat=True))
    invalid = list(Contact.objects.filter(phone_is_valid=False).values_list("phone", flat=True))

    assert all(E164_UAE.match(phone) for phone in valid)
    assert invalid and not any(E164_UAE.match(phone) for phone in invalid)
    assert Contact.objects.exclude(mobile="").exists()


def test_seed_demo_world_has_the_situations_the_pages_show(world):
    contacts = Contact.objects.all()
    stages = dict(contacts.values_list("lifecycle_stage").annotate(n=Count("id")).order_by())

    assert stages[LifecycleStage.LEAD] == max(stages.values())
    assert {LifecycleStage.SUBSCRIBER, LifecycleStage.LOST, LifecycleStage.CUSTOMER} <= set(stages)
    assert set(contacts.exclude(tier="").values_list("lifecycle_stage", flat=True)) <= {
        LifecycleStage.LEAD, LifecycleStage.MQL, LifecycleStage.SQL,
    }  # fmt: skip
    # Speed to lead: created in the last hour, never called.
    assert contacts.filter(hs_created_at__gte=world - timedelta(hours=1), call_count=0).exists()
    # Missing coach: customers / opportunities without one, but most have one.
    coached = contacts.filter(lifecycle_stage__in=[LifecycleStage.CUSTOMER, LifecycleStage.OPPORTUNITY])
    assert 0 < coached.filter(assigned_coach="").count() < coached.count() // 2
    assert contacts.filter(next_task_due_at__lt=world).exists()  # overdue tasks
    assert Task.objects.filter(status__in=OPEN_TASK_STATUSES, due_at__lt=world).exists()
    assert contacts.filter(do_not_contact=True).exists() and contacts.filter(is_archived=True).exists()
    assert contacts.filter(whatsapp_opt_out=True).exists()
    assert set(contacts.values_list("city", flat=True)) <= {
        "Dubai", "Abu Dhabi", "Sharjah", "Ajman", "Ras Al Khaimah", "Fujairah", "Umm Al Quwain", "Al Ain",
    }  # fmt: skip
    assert Owner.objects.count() == 8 and Owner.objects.filter(team="Coaches").exists()


def test_seed_demo_some_contacts_break_their_pattern_this_week(world):
    week_start = timeutils.start_of_day(timeutils.week_start())
    recent = CallRecord.objects.filter(contact=OuterRef("pk"), started_at__gte=world - timedelta(days=30))
    this_week = CallRecord.objects.filter(contact=OuterRef("pk"), started_at__gte=week_start)
    called = Contact.objects.filter(Exists(recent))

    quiet = called.exclude(Exists(this_week))
    breaks = Contact.objects.filter(pattern_status=PatternStatus.PATTERN_BREAK)

    assert 0 < quiet.count() < called.count()
    assert breaks.exists()
    # A detected break had a rhythm but no call in the last 7 days nor this business week.
    steady = breaks.filter(health_score__isnull=False)
    assert steady.exists()
    assert not steady.filter(Exists(this_week)).exists()


def test_seed_demo_same_seed_gives_the_same_world(now):
    def world_rows():
        return sorted(Contact.objects.values_list("email", "phone", "call_count", "lifecycle_stage"))

    seed()
    first = world_rows()
    first_calls = CallRecord.objects.count()

    seed(flush=True)

    assert world_rows() == first
    assert CallRecord.objects.count() == first_calls
    seed(flush=True, seed=SEED + 1)
    assert world_rows() != first


def test_seed_demo_creates_logins_that_work(world):
    users = {
        user.username: user
        for user in get_user_model().objects.filter(username__in=["manager", "setter", "ops"])
    }

    assert set(users) == {"manager", "setter", "ops"}
    assert users["manager"].is_staff and users["manager"].groups.filter(name=MANAGER).exists()
    assert users["ops"].is_staff and users["ops"].groups.filter(name=OPS).exists()
    assert not users["setter"].is_staff and users["setter"].groups.filter(name=SETTER).exists()
    assert signs_in("setter", "demo")
    assert signs_in("manager", "demo")


def test_seed_demo_gives_the_setter_a_queue_worth_working(world):
    owner = Owner.objects.get(user__username="setter")
    mine = Contact.objects.filter(owner=owner)

    assert mine.count() > 10
    assert mine.filter(hs_created_at__gte=world - timedelta(hours=1), call_count=0).exists()
    assert mine.filter(health_zone=Zone.RED).exists()
    assert mine.filter(next_task_due_at__lt=world).exists()
    assert mine.filter(pattern_status=PatternStatus.PATTERN_BREAK).exists()
    assert mine.filter(owner_changed_at__gte=world - timedelta(days=7)).exists()


def test_seed_demo_prints_the_logins_it_creates(now):
    out = seed(verbosity=1)

    assert "Created login setter / demo" in out and "Created login manager / demo" in out
    assert "calls" in out and "rows/s" in out
    assert "Created login" not in seed(verbosity=1, flush=True)


def test_seed_demo_if_empty_does_nothing_the_second_time(world):
    counts = (Contact.objects.count(), CallRecord.objects.count(), Owner.objects.count())

    out = seed(if_empty=True, seed=99, verbosity=1)

    assert "nothing seeded" in out
    assert (Contact.objects.count(), CallRecord.objects.count(), Owner.objects.count()) == counts


def test_seed_demo_refuses_to_add_a_second_world(world):
    with pytest.raises(CommandError, match="--flush"):
        seed()


def test_seed_demo_reference_scale_asks_for_the_s12_data_set(monkeypatch):
    built = {}

    def fake_build(*, config, **kwargs):
        built["config"] = config
        return demo.WorldStats()

    monkeypatch.setattr(demo, "world_build", fake_build)

    seed(scale="reference", contacts=None, seed=1)

    assert built["config"] == demo.REFERENCE
    assert (demo.REFERENCE.contacts, demo.REFERENCE.calls, demo.REFERENCE.deals, demo.REFERENCE.owners) == (
        200_000, 2_000_000, 50_000, 40,
    )  # fmt: skip


def test_seed_demo_gives_the_dashboard_its_revenue_trend(world):
    from scoring.models import RevenueAtRiskSnapshot
    from scoring.snapshots import BACKFILL_DAYS, revenue_at_risk_now

    days = list(RevenueAtRiskSnapshot.objects.order_by("day").values_list("day", "revenue_at_risk"))
    assert len(days) == BACKFILL_DAYS + 1  # every day of the backfill window, and today
    assert days[-1] == (timezone.localdate(world), revenue_at_risk_now().amount)
    assert len({amount for _, amount in days}) > 1  # a trend, not a flat line
    seed(flush=True)  # a new world replaces the old world's snapshots
    assert RevenueAtRiskSnapshot.objects.count() == BACKFILL_DAYS + 1


def test_seed_demo_refuses_without_debug_and_creates_no_login(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="--i-know-this-is-not-production"):
        seed(contacts=5)

    assert not get_user_model().objects.filter(username__in=["manager", "setter", "ops"]).exists()
    assert not Contact.objects.exists()


def test_seed_demo_seeds_without_debug_when_told_it_is_not_production(settings, now):
    settings.DEBUG = False

    seed(contacts=5, i_know_this_is_not_production=True)

    assert Contact.objects.count() == 5
    assert signs_in("setter", "demo")


def test_seed_demo_never_touches_an_existing_user_of_a_demo_name(now):
    # given: a real person called "manager", not staff, in no group, with their own password
    User = get_user_model()
    real = User.objects.create_user(username="manager", password="their-own-pass-2026", first_name="Mona")
    # when
    out = seed(contacts=5, verbosity=1)
    # then: their password, groups and flags are as they were, and the output says so
    real.refresh_from_db()
    assert real.check_password("their-own-pass-2026") and not real.check_password("demo")
    assert not real.groups.exists()
    assert (real.is_staff, real.is_superuser, real.is_active, real.first_name) == (False, False, True, "Mona")
    assert "The user manager already existed and was left as it was" in out
    assert "Created login manager" not in out
    assert "Created login setter / demo" in out and "Created login ops / demo" in out
