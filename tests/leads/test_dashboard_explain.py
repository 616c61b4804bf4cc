"""The Explain buttons: figures computed by the app, worded by Claude only when it keeps them."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django.asserts import assertContains, assertNotContains

from calls.models import CallOutcome, CallStatus
from leads.explain import explain_owner_today, explain_revenue_change
from leads.models import LifecycleStage, Zone
from leads.services import health_score_record
from scoring.models import RevenueAtRiskSnapshot, SnapshotSource
from tests.factories import CallRecordFactory, ContactFactory, InterventionFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)  # Tuesday, 14:00 Dubai

COMPUTED_REVENUE = (
    "Revenue at risk is AED 21,500 across 3 clients with risk 60+. "
    "That is up AED 11,500 from AED 10,000 (2 clients) on 3 March. "
    "1 client became at risk, adding AED 12,000: Rania Haddad (AED 12,000, risk 50 to 78, Sam Setter). "
    "1 client is no longer at risk, removing AED 4,000: Omar Saleh (AED 4,000, risk 70 to 30). "
    "1 client still at risk changed package value, up AED 1,500 in all."
)


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.TIME_ZONE = "Asia/Dubai"
    settings.REVENUE_AT_RISK_MIN_RISK = 60
    settings.ANTHROPIC_ENABLED = False
    settings.AI_DRAFT_BUDGET_SECONDS = 2


def at(day: int, hour: int = 6) -> datetime:
    return datetime(2026, 3, day, hour, 0, tzinfo=UTC)


@pytest.fixture
def revenue_week(setter):
    """A week in which one client became at risk, one recovered and one's package grew; one sat
    still. The snapshot of 3 March (a week ago) said AED 10,000."""

    def client(first, last, *scores):
        contact = ContactFactory(
            owner=setter.owner, first_name=first, last_name=last, lifecycle_stage=LifecycleStage.CUSTOMER
        )
        for day, risk, value in scores:
            health_score_record(
                contact=contact,
                score=100 - risk,
                predictive_risk=risk,
                package_value=Decimal(value),
                computed_at=at(day),
            )

    client("Rania", "Haddad", (1, 50, 12_000), (8, 78, 12_000))
    client("Omar", "Saleh", (1, 70, 4_000), (9, 30, 4_000))
    client("Lina", "Karam", (1, 80, 6_000), (9, 82, 7_500))
    client("Steady", "State", (1, 90, 2_000))
    RevenueAtRiskSnapshot.objects.create(
        day=date(2026, 3, 3),
        revenue_at_risk=Decimal(10_000),
        clients_at_risk=2,
        min_risk=60,
        source=SnapshotSource.LIVE,
        taken_at=at(3, 19),
    )


@time_machine.travel(NOW, tick=False)
def test_revenue_explanation_is_computed_from_the_figures_without_a_key(revenue_week):
    explanation = explain_revenue_change()

    assert explanation.text == COMPUTED_REVENUE
    assert explanation.source == "computed"
    assert explanation.facts["entered_count"] == 1 and explanation.facts["then"] == "10000.00"


@time_machine.travel(NOW, tick=False)
def test_revenue_explanation_is_worded_by_the_model_from_the_computed_figures(revenue_week, fake_anthropic):
    worded = (
        "Revenue at risk rose by AED 11,500 to AED 21,500 since 3 March (AED 10,000). Rania Haddad moved "
        "into risk with a package of AED 12,000, Omar Saleh recovered (AED 4,000 off the total) and "
        "Lina Karam's package grew by AED 1,500."
    )
    fake_anthropic.reply(worded)

    explanation = explain_revenue_change()

    assert (explanation.text, explanation.source, explanation.computed) == (worded, "ai", COMPUTED_REVENUE)
    (request,) = fake_anthropic.requests
    assert "add no number" in request.system
    assert "<figures>" in request.user_text and "Rania Haddad" in request.user_text
    # the same figures again: cached, no second request
    assert explain_revenue_change().text == worded
    assert len(fake_anthropic.requests) == 1


@time_machine.travel(NOW, tick=False)
def test_revenue_explanation_falls_back_when_the_model_fails_or_changes_a_figure(
    revenue_week, fake_anthropic
):
    fake_anthropic.server_error()
    assert explain_revenue_change().text == COMPUTED_REVENUE

    fake_anthropic.reply("Revenue at risk rose by about AED 12,000 this week.")  # rounded: not shown
    explanation = explain_revenue_change()
    assert (explanation.text, explanation.source) == (COMPUTED_REVENUE, "computed")


@time_machine.travel(NOW, tick=False)
def test_revenue_explanation_says_when_there_is_no_snapshot_a_week_ago():
    explanation = explain_revenue_change()

    assert explanation.text == (
        "Revenue at risk is AED 0 across 0 clients with risk 60+. No snapshot was recorded for 3 March, "
        "so the change is counted from client moves only. No client moved into or out of the at-risk "
        "group in the last 7 days."
    )


@time_machine.travel(NOW, tick=False)
def test_owner_explanation_lists_the_queue_the_target_and_open_actions(manager, setter):
    owner = setter.owner
    owner.weekly_booking_target = 3
    owner.save()
    urgent = ContactFactory(
        owner=owner,
        first_name="Rania",
        last_name="Haddad",
        health_zone=Zone.RED,
        last_call_at=NOW - timedelta(days=20),
        call_count=1,
        outgoing_call_count=1,
    )
    ContactFactory(
        owner=owner,
        first_name="Lead",
        last_name="One",
        last_call_at=NOW - timedelta(days=5),
        call_count=1,
        outgoing_call_count=1,
    )
    CallRecordFactory(
        contact=urgent, owner=owner, status=CallStatus.ANSWERED, outcome=CallOutcome.BOOKED, started_at=at(9)
    )
    InterventionFactory(contact=urgent, owner=owner)

    explanation = explain_owner_today(user=manager, owner=owner)

    assert explanation.question == "What should Sam Setter do today?"
    text = explanation.text
    assert text.startswith(
        "Sam has 2 contacts in the call queue, 1 urgent and 0 high priority; 0 contacted today."
    )
    assert "Start with: Rania Haddad (URGENT: RED zone · 20 days no contact" in text
    assert "1 of Sam's leads have not been contacted in 7+ days (0 high risk, 1 RED)." in text
    assert "Bookings this week: 1 of 3, needs 2 more to hit this week's target." in text
    assert text.endswith("1 open intervention is waiting for an outcome.")


@time_machine.travel(NOW, tick=False)
def test_explain_buttons_answer_with_the_explanation_fragment(
    manager_client, setter, revenue_week, htmx_headers
):
    response = manager_client.get("/?explain=revenue", HTTP_HX_TARGET="explanation", **htmx_headers)

    assertContains(
        response,
        f'<p data-testid="explanation-text" data-source="computed">{COMPUTED_REVENUE}</p>',
        html=True,
    )
    assertContains(response, "AI wording is not configured")
    assertNotContains(response, 'id="revenue"')

    response = manager_client.get(
        f"/?explain=owner&owner={setter.owner.pk}", HTTP_HX_TARGET="explanation", **htmx_headers
    )
    assertContains(response, "What should Sam Setter do today?")
    # without an owner, or for one that does not exist: a clear 400
    assert manager_client.get("/?explain=owner").status_code == 400
    assert manager_client.get("/?explain=owner&owner=999999").status_code == 400
    assert manager_client.get("/?explain=everything").status_code == 400


@time_machine.travel(NOW, tick=False)
def test_other_fragments_do_not_compute_the_explanation_the_url_carries(
    manager_client, setter, revenue_week, htmx_headers
):
    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert manager_client.get(url, HTTP_HX_TARGET="revenue", **htmx_headers).status_code == 200
        return len(captured)

    assert queries("/?explain=revenue") == queries("/")
