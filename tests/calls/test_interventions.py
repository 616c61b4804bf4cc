"""Smart actions, outcomes and success rates (SPEC S4, S7), and their in-place buttons."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction
from pytest_django.asserts import assertContains, assertTemplateUsed

from calls.interventions import (
    InterventionClosed,
    intervention_outcome_record,
    intervention_type_for,
    smart_actions_generate,
    success_rates,
)
from calls.models import Intervention, InterventionOutcome, InterventionStatus, InterventionType
from leads.models import LifecycleStage, PatternStatus, Zone
from tests.factories import ContactFactory, InterventionFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.TIME_ZONE = "Asia/Dubai"
    settings.REVENUE_AT_RISK_MIN_RISK = 60
    settings.INTERVENTION_RATE_MIN_OUTCOMES = 5


def client(**kwargs):
    defaults = {"lifecycle_stage": LifecycleStage.CUSTOMER, "last_call_at": NOW - timedelta(days=3)}
    return ContactFactory(**{**defaults, **kwargs})


# --- Rules ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({"owner_changed_at": NOW - timedelta(days=13), "health_zone": Zone.RED}, "NEW_OWNER_INTRODUCTION"),
        ({"owner_changed_at": NOW - timedelta(days=15), "health_zone": Zone.YELLOW}, "WELLNESS_CHECK"),
        ({"pattern_status": PatternStatus.PATTERN_BREAK, "health_zone": Zone.RED}, "PATTERN_BREAK_FOLLOW_UP"),
        ({"health_zone": Zone.RED}, "RE_ENGAGEMENT"),
        ({"health_zone": Zone.ORANGE, "last_call_at": NOW - timedelta(days=14)}, "RE_ENGAGEMENT"),
        ({"health_zone": Zone.ORANGE, "last_call_at": None}, "RE_ENGAGEMENT"),
        ({"health_zone": Zone.ORANGE, "sessions_left": 2}, "RENEWAL"),
        ({"health_zone": Zone.YELLOW, "package_end_date": datetime(2026, 3, 24).date()}, "RENEWAL"),
        ({"health_zone": Zone.YELLOW, "package_end_date": datetime(2026, 3, 25).date()}, "WELLNESS_CHECK"),
        ({"health_zone": Zone.ORANGE, "sessions_left": 3}, "WELLNESS_CHECK"),
    ],
)
@time_machine.travel(NOW, tick=False)
def test_intervention_type_follows_the_rules(facts, expected):
    assert intervention_type_for(client(**facts), now=NOW) == expected


# --- Generating smart actions --------------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_generate_creates_actions_for_the_most_at_risk_with_drafts_and_never_duplicates(manager):
    # given: four at-risk clients (by risk or zone), one already with an open action, and others
    worst = client(first_name="Worst", predictive_risk=95, health_zone=Zone.RED, health_score=10)
    second = client(first_name="Second", predictive_risk=80, health_zone=Zone.ORANGE, health_score=35)
    orange = client(first_name="Orange", predictive_risk=None, health_zone=Zone.ORANGE, health_score=40)
    taken = client(first_name="Taken", predictive_risk=90, health_zone=Zone.RED)
    InterventionFactory(contact=taken, intervention_type=InterventionType.WELLNESS_CHECK)
    client(first_name="Fine", predictive_risk=59, health_zone=Zone.YELLOW)
    client(first_name="Archived", predictive_risk=99, is_archived=True)
    client(first_name="Dnc", predictive_risk=99, do_not_contact=True)

    # when
    first = smart_actions_generate(user=manager, limit=2, use_ai=False)

    # then: the two most at risk, highest risk first
    assert first.considered == 2
    made = {i.contact_id: i for i in first.created}
    assert set(made) == {worst.pk, second.pk}
    assert made[worst.pk].intervention_type == InterventionType.RE_ENGAGEMENT
    assert made[worst.pk].zone_at_creation == Zone.RED
    assert made[worst.pk].status == InterventionStatus.OPEN and made[worst.pk].created_by == manager
    assert made[worst.pk].draft_message.startswith('Opener: "Hi Worst')  # phone notes for the call
    assert "RED zone" in made[worst.pk].notes

    # when: again, asking for more
    again = smart_actions_generate(user=manager, limit=10, use_ai=False)

    # then: only the one left without an open action
    assert [i.contact_id for i in again.created] == [orange.pk]
    assert Intervention.objects.filter(status=InterventionStatus.OPEN).count() == 4
    assert smart_actions_generate(user=manager, limit=10, use_ai=False).created == []


def test_database_refuses_a_second_open_action_of_the_same_type():
    contact = client()
    InterventionFactory(contact=contact, intervention_type=InterventionType.RENEWAL)
    InterventionFactory(
        contact=contact,
        intervention_type=InterventionType.RENEWAL,
        status=InterventionStatus.DONE,
        outcome=InterventionOutcome.FAILED,
    )  # a closed one is history, not a duplicate

    with pytest.raises(IntegrityError), transaction.atomic():
        InterventionFactory(contact=contact, intervention_type=InterventionType.RENEWAL)


@time_machine.travel(NOW, tick=False)
def test_generate_drafts_with_the_ai_when_it_answers(manager, fake_anthropic):
    fake_anthropic.reply("Opener: a friendly check-in.\n- Ask how training is going.")
    contact = client(first_name="Rania", predictive_risk=90, health_zone=Zone.RED)

    (made,) = smart_actions_generate(user=manager, limit=1).created

    assert made.contact_id == contact.pk
    assert made.draft_message == "Opener: a friendly check-in.\n- Ask how training is going."
    assert "Rania" in fake_anthropic.requests[0].user_text


# --- Outcomes and rates --------------------------------------------------------------------------


def test_recording_an_outcome_closes_the_action_once():
    item = InterventionFactory(contact=client())

    done = intervention_outcome_record(intervention=item, outcome="success", note=" Booked 3 sessions ")

    assert (done.status, done.outcome, done.notes) == ("DONE", "success", "Booked 3 sessions")
    assert done.completed_at is not None
    with pytest.raises(InterventionClosed):
        intervention_outcome_record(intervention=item, outcome="failed")
    item.refresh_from_db()
    assert item.outcome == "success"
    with pytest.raises(ValueError):
        intervention_outcome_record(intervention=InterventionFactory(contact=client()), outcome="great")


def _outcomes(kind, zone, success=0, partial=0, failed=0):
    for outcome, n in (("success", success), ("partial", partial), ("failed", failed)):
        for _ in range(n):
            InterventionFactory(
                contact=client(),
                intervention_type=kind,
                zone_at_creation=zone,
                status=InterventionStatus.DONE,
                outcome=outcome,
            )


def test_success_rates_by_type_and_by_type_and_zone():
    _outcomes("WELLNESS_CHECK", Zone.YELLOW, success=13, partial=4, failed=3)  # 13/20 = 65%
    _outcomes("WELLNESS_CHECK", Zone.RED, success=1, failed=3)  # 1/4 = 25%, too few to trust
    _outcomes("RE_ENGAGEMENT", Zone.RED, success=2, partial=2, failed=1)  # 2/5 = 40%
    InterventionFactory(contact=client(), intervention_type="RENEWAL")  # open: no outcome yet

    rates = success_rates()

    assert (rates.overall.outcomes, rates.overall.successes, rates.overall.partials) == (29, 16, 6)
    assert rates.overall.percent == 55  # 16 / 29 = 55.2%
    by_type = {
        r.intervention_type: (r.outcomes, r.successes, r.partials, r.failures, r.percent)
        for r in rates.by_type
    }
    assert by_type == {"WELLNESS_CHECK": (24, 14, 4, 6, 58), "RE_ENGAGEMENT": (5, 2, 2, 1, 40)}
    cells = {(r.intervention_type, r.zone): (r.outcomes, r.percent, r.is_trusted) for r in rates.by_type_zone}
    assert cells == {
        ("WELLNESS_CHECK", "YELLOW"): (20, 65, True),
        ("WELLNESS_CHECK", "RED"): (4, 25, False),
        ("RE_ENGAGEMENT", "RED"): (5, 40, True),
    }
    best = rates.best_for_zone()
    assert best["YELLOW"].sentence == "Wellness check works 65% of the time for YELLOW clients (13 of 20)"
    assert best["RED"].intervention_type == "RE_ENGAGEMENT"  # the trusted one, not WELLNESS_CHECK's 4


def test_success_rates_are_empty_without_outcomes():
    rates = success_rates()
    assert (rates.overall.outcomes, rates.overall.percent, rates.by_type, rates.by_type_zone) == (
        0,
        None,
        [],
        [],
    )


# --- Views ---------------------------------------------------------------------------------------


def test_outcome_button_returns_the_closed_row_and_tells_the_page(setter_client, setter, htmx_headers):
    item = InterventionFactory(contact=client(owner=setter.owner, first_name="Nadia"))

    response = setter_client.post(
        f"/interventions/{item.pk}/outcome/",
        {"outcome": "partial", "note": "Talked, no booking"},
        **htmx_headers,
    )

    assert response.status_code == 200
    assertTemplateUsed(response, "calls/_intervention_row.html")
    assertContains(
        response,
        '<span class="badge outcome outcome--partial" data-testid="outcome">Partial</span>',
        html=True,
    )
    assert response.headers["HX-Trigger"] == "intervention-closed"
    assert b"<html" not in response.content
    item.refresh_from_db()
    assert (item.outcome, item.notes) == ("partial", "Talked, no booking")


def test_outcome_twice_says_it_was_already_recorded(setter_client, setter, htmx_headers):
    item = InterventionFactory(contact=client(owner=setter.owner))
    setter_client.post(f"/interventions/{item.pk}/outcome/", {"outcome": "success"}, **htmx_headers)

    response = setter_client.post(f"/interventions/{item.pk}/outcome/", {"outcome": "failed"}, **htmx_headers)

    assertContains(response, "Someone already recorded how this went.")
    assert "HX-Trigger" not in response.headers
    item.refresh_from_db()
    assert item.outcome == "success"
    assert setter_client.post(f"/interventions/{item.pk}/outcome/", {"outcome": "failed"}).status_code == 409


def test_outcome_rejects_a_bad_value_and_another_setters_action(
    setter_client, setter, other_setter, htmx_headers
):
    mine = InterventionFactory(contact=client(owner=setter.owner))
    theirs = InterventionFactory(contact=client(owner=other_setter.owner))

    bad = setter_client.post(f"/interventions/{mine.pk}/outcome/", {"outcome": "brilliant"}, **htmx_headers)

    assertContains(bad, "Select a valid choice")
    assert (
        setter_client.post(f"/interventions/{mine.pk}/outcome/", {"outcome": "brilliant"}).status_code == 400
    )
    assert (
        setter_client.post(f"/interventions/{theirs.pk}/outcome/", {"outcome": "success"}).status_code == 404
    )
    assert setter_client.get(f"/interventions/{mine.pk}/outcome/").status_code == 405
    mine.refresh_from_db()
    assert mine.status == "OPEN"


@time_machine.travel(NOW, tick=False)
def test_generate_button_is_for_managers_and_answers_htmx_with_an_event(
    manager_client, setter_client, htmx_headers
):
    client(predictive_risk=90, health_zone=Zone.RED)

    assert setter_client.post("/interventions/generate/", {"limit": 5}).status_code == 403
    assert manager_client.post("/interventions/generate/", {"limit": 0}).status_code == 400
    response = manager_client.post("/interventions/generate/", {"limit": 5}, **htmx_headers)

    assert response.status_code == 204
    assert response.headers["HX-Trigger"] == "interventions-changed"
    assert Intervention.objects.count() == 1
    # Without htmx: back to the dashboard with a message.
    response = manager_client.post("/interventions/generate/", {"limit": 5})
    assert response.status_code == 302 and response.url == "/"
