"""The home page: a setter's own day (today's figures on the business day in Dubai, their queue);
managers get the dashboard instead (tests/leads/test_dashboard_views.py)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects, assertTemplateUsed

from calls.models import CallOutcome, CallStatus, Channel, Direction
from calls.services import call_log
from leads.models import LifecycleStage
from leads.selectors import home_figures
from tests.factories import CallRecordFactory, ContactFactory, OwnerFactory, UserFactory

pytestmark = pytest.mark.django_db

# 00:30 on 3 March in Dubai (UTC+4) is still 2 March in UTC.
JUST_AFTER_DUBAI_MIDNIGHT = datetime(2026, 3, 2, 20, 30, tzinfo=UTC)
# 23:50 on 3 March in Dubai; 00:10 Dubai that morning was 2 March in UTC.
JUST_BEFORE_DUBAI_MIDNIGHT = datetime(2026, 3, 3, 19, 50, tzinfo=UTC)
# Session, user, the user's groups, the setter's Owner, stage counts, today's call aggregate;
# the queue's factors, entries, counts and "contacted today"; this week's bookings and the
# owner's target; open interventions.
QUERY_BUDGET = 14


@pytest.fixture(autouse=True)
def _dubai(settings):
    settings.TIME_ZONE = "Asia/Dubai"


def _world(setter, other_setter):
    """Contacts and today's calls for two setters, plus rows that must never be counted."""
    mine = [
        ContactFactory(owner=setter.owner, lifecycle_stage=LifecycleStage.LEAD),
        ContactFactory(owner=setter.owner, lifecycle_stage=LifecycleStage.LEAD),
        ContactFactory(owner=setter.owner, lifecycle_stage=LifecycleStage.SQL),
    ]
    theirs = [
        ContactFactory(owner=other_setter.owner, lifecycle_stage=LifecycleStage.LEAD),
        ContactFactory(owner=other_setter.owner, lifecycle_stage=LifecycleStage.CUSTOMER),
    ]
    ContactFactory(owner=None, lifecycle_stage=LifecycleStage.OPPORTUNITY)
    # Neither archived nor merged contacts count, whoever owns them.
    ContactFactory(owner=setter.owner, lifecycle_stage=LifecycleStage.LEAD, is_archived=True)
    ContactFactory(owner=other_setter.owner, lifecycle_stage=LifecycleStage.SQL, merged_into=mine[2])

    call_log(contact=mine[0], owner=setter.owner, status=CallStatus.ANSWERED, outcome=CallOutcome.BOOKED)
    call_log(contact=mine[1], owner=setter.owner, status=CallStatus.NO_ANSWER)
    call_log(
        contact=mine[2],
        owner=setter.owner,
        status=CallStatus.ANSWERED,
        channel=Channel.WHATSAPP,
        direction=Direction.INBOUND,
    )
    call_log(
        contact=theirs[0], owner=other_setter.owner, status=CallStatus.ANSWERED, outcome=CallOutcome.BOOKED
    )
    # Yesterday's call is history, not today.
    CallRecordFactory(contact=theirs[1], started_at=datetime(2026, 3, 2, 12, 0, tzinfo=UTC))


@time_machine.travel(datetime(2026, 3, 3, 10, 0, tzinfo=UTC), tick=False)
def test_home_figures_count_only_the_setters_own_contacts_and_calls(setter, other_setter):
    # given
    _world(setter, other_setter)
    # when
    figures = home_figures(user=setter)
    # then
    assert figures.scope_label == "Sam Setter"
    assert figures.contacts_by_stage == [("Lead", 2), ("SQL", 1)]
    assert figures.total_contacts == 3
    assert (figures.calls_today, figures.reached_today, figures.bookings_today) == (3, 2, 1)


@time_machine.travel(datetime(2026, 3, 3, 10, 0, tzinfo=UTC), tick=False)
def test_home_figures_count_everything_for_a_manager(manager, setter, other_setter):
    _world(setter, other_setter)

    figures = home_figures(user=manager)

    assert figures.scope_label == "All owners"
    assert figures.contacts_by_stage == [("Lead", 3), ("SQL", 1), ("Opportunity", 1), ("Customer", 1)]
    assert figures.total_contacts == 6
    assert (figures.calls_today, figures.reached_today, figures.bookings_today) == (4, 3, 2)


def test_home_figures_call_late_last_night_in_dubai_is_not_today_on_the_same_utc_date(setter):
    contact = ContactFactory(owner=setter.owner)
    with time_machine.travel(JUST_AFTER_DUBAI_MIDNIGHT, tick=False):
        # 23:30 Dubai on 2 March: the same UTC date as now, but yesterday's business day.
        CallRecordFactory(contact=contact, started_at=JUST_AFTER_DUBAI_MIDNIGHT - timedelta(hours=1))
        # 00:10 Dubai on 3 March: today.
        CallRecordFactory(contact=contact, started_at=JUST_AFTER_DUBAI_MIDNIGHT - timedelta(minutes=20))

        assert home_figures(user=setter).calls_today == 1


def test_home_figures_call_early_this_morning_in_dubai_is_today_on_the_previous_utc_date(setter):
    contact = ContactFactory(owner=setter.owner)
    with time_machine.travel(JUST_BEFORE_DUBAI_MIDNIGHT, tick=False):
        CallRecordFactory(contact=contact, started_at=datetime(2026, 3, 2, 20, 10, tzinfo=UTC))  # 00:10 Dubai
        CallRecordFactory(
            contact=contact, started_at=datetime(2026, 3, 2, 19, 50, tzinfo=UTC)
        )  # 23:50 before
        # A call logged "tomorrow" by a skewed clock is not today either.
        CallRecordFactory(contact=contact, started_at=datetime(2026, 3, 3, 20, 0, tzinfo=UTC))

        assert home_figures(user=setter).calls_today == 1


def test_home_figures_are_empty_for_a_login_without_owner_or_role():
    ContactFactory()
    CallRecordFactory()

    figures = home_figures(user=UserFactory())

    assert figures.scope_label == "No owner linked"
    assert figures.contacts_by_stage == []
    assert (figures.total_contacts, figures.calls_today) == (0, 0)


@time_machine.travel(datetime(2026, 3, 3, 10, 0, tzinfo=UTC), tick=False)
def test_home_shows_the_setters_figures(setter_client, setter, other_setter):
    _world(setter, other_setter)

    response = setter_client.get("/")

    assert response.status_code == 200
    assert response.context["day"].figures == home_figures(user=setter)
    assertTemplateUsed(response, "leads/home.html")
    assertContains(response, '<span data-testid="scope-label">Sam Setter</span>', html=True)
    assertContains(response, '<span class="stat__value" data-testid="calls-today">3</span>', html=True)
    assertContains(response, '<tr><th scope="row">SQL</th><td class="num">1</td></tr>', html=True)
    assertNotContains(response, "Customer")  # only the other setter has a customer
    assertNotContains(response, 'href="/admin/"')  # setters are not staff
    assertContains(response, '<a class="nav__link" href="/" aria-current="page">Home</a>', html=True)


@time_machine.travel(datetime(2026, 3, 3, 10, 0, tzinfo=UTC), tick=False)
def test_home_shows_the_dashboard_and_admin_link_to_a_manager(manager_client, setter, other_setter):
    _world(setter, other_setter)

    response = manager_client.get("/")

    assertTemplateUsed(response, "leads/dashboard.html")
    assertContains(response, '<span data-testid="scope-label">All owners</span>', html=True)
    assertContains(response, '<strong data-testid="bookings-week">2</strong>', html=True)
    assertContains(
        response, '<span class="badge badge--role" data-testid="user-role">Manager</span>', html=True
    )
    assertContains(response, 'href="/admin/"')


def test_home_shows_empty_state_when_there_is_no_data(setter_client):
    response = setter_client.get("/")

    assertContains(response, 'data-testid="empty-contacts"')
    assertContains(response, "No calls logged today yet.")


def test_home_sends_the_csrf_token_with_htmx_and_loads_vendored_htmx(setter_client):
    response = setter_client.get("/")

    token = response.context["csrf_token"]
    assertContains(response, f"""hx-headers='{{"X-CSRFToken": "{token}"}}'""")
    assertContains(response, '<script src="/static/vendor/htmx.min.js" defer></script>', html=True)
    assertContains(response, '<form method="post" action="/logout/">')


def test_home_redirects_anonymous_to_login(client):
    response = client.get("/")

    assertRedirects(response, "/login/?next=/", fetch_redirect_response=False)


def test_home_rejects_post(setter_client):
    assert setter_client.post("/").status_code == 405


def test_home_query_count_does_not_grow_with_rows(
    setter_client, setter, other_setter, django_assert_max_num_queries
):
    def queries_for_home() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert setter_client.get("/").status_code == 200
        return len(captured)

    ContactFactory(owner=setter.owner)
    small = queries_for_home()
    for stage in LifecycleStage.values:
        for owner in (setter.owner, other_setter.owner, OwnerFactory()):
            CallRecordFactory(contact=ContactFactory(owner=owner, lifecycle_stage=stage))

    with django_assert_max_num_queries(QUERY_BUDGET):
        setter_client.get("/")
    assert queries_for_home() == small
