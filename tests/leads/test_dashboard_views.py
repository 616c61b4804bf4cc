"""The home page by role: managers get the dashboard (and its htmx fragments), setters their day."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django.asserts import assertContains, assertNotContains, assertTemplateUsed

from calls.models import CallOutcome, CallStatus, InterventionStatus, InterventionType
from leads.models import LifecycleStage, Zone
from leads.services import contacts_reassign, health_score_record
from tests.factories import (
    CallRecordFactory,
    ContactFactory,
    InterventionFactory,
    OwnerFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
# Session, user, groups; not contacted (1), revenue now and its snapshots (2), bookings and
# owners (2), owner changes and who from/to (2), open interventions' page then rows (2), rates (1).
DASHBOARD_QUERIES = 13


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.TIME_ZONE = "Asia/Dubai"
    settings.REVENUE_AT_RISK_MIN_RISK = 60


def world(setter, other_setter, *, extra: int = 0):
    """Some of everything the dashboard shows, `extra` times more of it when asked."""
    for n in range(1 + extra):
        for owner in (setter.owner, other_setter.owner):
            stale = ContactFactory(
                owner=owner,
                lifecycle_stage=LifecycleStage.CUSTOMER,
                last_call_at=NOW - timedelta(days=9 + n),
                health_zone=Zone.RED,
            )
            health_score_record(
                contact=stale,
                score=20,
                predictive_risk=80,
                package_value=Decimal(1_000),
                computed_at=NOW - timedelta(days=1),
            )
            CallRecordFactory(
                contact=stale,
                owner=owner,
                status=CallStatus.ANSWERED,
                outcome=CallOutcome.BOOKED,
                started_at=NOW - timedelta(hours=1),
            )
            InterventionFactory(contact=stale, owner=owner)
            InterventionFactory(
                contact=stale,
                owner=owner,
                intervention_type=InterventionType.RENEWAL,
                status=InterventionStatus.DONE,
                outcome="success",
                zone_at_creation=Zone.RED,
            )
            moved = ContactFactory(owner=owner, lifecycle_stage=LifecycleStage.CUSTOMER)
            health_score_record(contact=moved, score=80, computed_at=NOW - timedelta(days=5))
            contacts_reassign(contact_ids=[moved.pk], to_owner=OwnerFactory(), at=NOW - timedelta(days=4))
            health_score_record(contact=moved, score=40, computed_at=NOW - timedelta(days=1))


# --- Role routing -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["manager", "ops_user", "superuser"])
def test_home_is_the_dashboard_for_managers_ops_and_superusers(role, request, client):
    client.force_login(request.getfixturevalue(role))

    response = client.get("/")

    assert response.status_code == 200
    assertTemplateUsed(response, "leads/dashboard.html")
    assertContains(response, "<h1>Dashboard</h1>", html=True)


def test_home_is_the_setters_own_day(setter_client):
    response = setter_client.get("/")

    assertTemplateUsed(response, "leads/home.html")
    assertContains(response, "<h1>My day</h1>", html=True)
    assertNotContains(response, "Generate smart actions")


def test_home_for_a_login_without_role_or_owner_is_an_empty_day(client):
    client.force_login(UserFactory())

    response = client.get("/")

    assertTemplateUsed(response, "leads/home.html")
    assertContains(response, '<span data-testid="scope-label">No owner linked</span>', html=True)
    assertNotContains(response, "Open my call queue")


# --- The dashboard page -------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_dashboard_shows_each_section_with_its_figures(manager_client, setter, other_setter):
    world(setter, other_setter)

    response = manager_client.get("/")

    assertContains(
        response, '<span class="mini-stats__value" data-testid="not-reached-total">4</span>', html=True
    )
    assertContains(
        response, '<span class="mini-stats__value" data-testid="not-reached-red">2</span>', html=True
    )
    assertContains(response, '<p class="big-figure" data-testid="revenue-at-risk">AED 2,000</p>', html=True)
    assertContains(response, '<strong data-testid="bookings-week">2</strong>', html=True)
    # each owner links to their queue, with the same window
    assertContains(
        response, f'<a href="/queue/?owner={setter.owner.pk}&amp;days=7">Sam Setter</a>', html=True
    )
    assertContains(response, "What should Sam Setter do today?")
    assertContains(response, 'data-testid="owner-changes"')
    assertContains(response, "Generate smart actions")
    assertContains(response, '<strong data-testid="rate-overall">100%</strong>', html=True)
    assertContains(response, "<svg", count=2)  # the 7- and 30-day trends, drawn by the server


@time_machine.travel(NOW, tick=False)
def test_dashboard_window_comes_from_the_url_and_bad_values_are_refused(manager_client, setter, other_setter):
    world(setter, other_setter)

    assertContains(manager_client.get("/?days=10"), "Leads not contacted in 10+ days")
    assertContains(manager_client.get("/?days=60"), 'data-testid="all-caught-up"')
    for bad in ("0", "abc", "366"):
        response = manager_client.get(f"/?days={bad}")
        assert response.status_code == 400
        assert b"days" in response.content


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(
    ("target", "inside", "outside"),
    [
        ("not-reached", 'id="not-reached"', 'id="revenue"'),
        ("revenue", 'data-testid="revenue-at-risk"', 'id="bookings"'),
        ("interventions", 'id="interventions"', 'id="rates"'),
        ("rates", 'data-testid="rate-overall"', 'id="interventions"'),
    ],
)
def test_dashboard_htmx_fragment_is_only_that_part(
    manager_client, setter, other_setter, htmx_headers, target, inside, outside
):
    world(setter, other_setter)

    response = manager_client.get("/", HTTP_HX_TARGET=target, **htmx_headers)

    assertContains(response, inside)
    assertNotContains(response, outside)
    assertNotContains(response, "<html")
    assert "HX-Target" in response.headers["Vary"]


def test_dashboard_rejects_post(manager_client):
    assert manager_client.post("/").status_code == 405


@time_machine.travel(NOW, tick=False)
def test_dashboard_query_count_does_not_grow_with_rows(
    manager_client, setter, other_setter, django_assert_max_num_queries
):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert manager_client.get("/").status_code == 200
        return len(captured)

    world(setter, other_setter)
    small = queries()
    world(setter, other_setter, extra=3)

    with django_assert_max_num_queries(DASHBOARD_QUERIES):
        manager_client.get("/")
    assert queries() == small


# --- A setter's day -----------------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_setters_day_shows_their_queue_bookings_and_interventions_only(setter_client, setter, other_setter):
    setter.owner.weekly_booking_target = 4
    setter.owner.save()
    world(setter, other_setter)
    mine = ContactFactory(owner=setter.owner, first_name="Mona", last_call_at=NOW - timedelta(days=5))
    InterventionFactory(contact=mine, owner=setter.owner, notes="Check in with Mona")
    theirs = ContactFactory(owner=other_setter.owner, first_name="Tariq")
    InterventionFactory(contact=theirs, owner=other_setter.owner, notes="Check in with Tariq")

    response = setter_client.get("/")

    day = response.context["day"]
    assert day.queue.summary.total == 2  # the stale RED client and Mona
    assertContains(
        response,
        f'<span class="stat__value" data-testid="queue-total">{day.queue.summary.total}</span>',
        html=True,
    )
    assertContains(
        response,
        '<span data-testid="bookings-status">needs 3 more to hit this week&#x27;s target</span>',
        html=True,
    )
    assertContains(response, "Check in with Mona")
    assertNotContains(response, "Tariq")
    assertContains(response, 'data-testid="next-up"')
