"""The queue factor fed by intervention outcomes (SPEC S7): "WELLNESS_CHECK works 65% of the time
for YELLOW clients" raises the priority of YELLOW clients."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import TestCase
from django.utils import timezone

from calls.interventions import intervention_outcome_record, zones_where_interventions_work
from leads.models import Contact, LifecycleStage, Zone
from scoring.models import PriorityFactor
from scoring.priority import factors_active, queue_factors_expression
from scoring.services import queue_scores_refresh
from tests.factories import ContactFactory, InterventionFactory
from tests.scoring.helpers import scored

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.INTERVENTION_RATE_MIN_OUTCOMES = 5


def outcomes(kind, zone, success=0, partial=0, failed=0):
    """Outcomes recorded the way a person records them, committed, so the queue hears of them."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        for outcome, n in (("success", success), ("partial", partial), ("failed", failed)):
            for _ in range(n):
                intervention = InterventionFactory(intervention_type=kind, zone_at_creation=zone)
                intervention_outcome_record(intervention=intervention, outcome=outcome)


def client(zone):
    return ContactFactory(
        health_zone=zone,
        lifecycle_stage=LifecycleStage.CUSTOMER,
        last_call_at=timezone.now() - timedelta(days=2),
        call_count=1,
        outgoing_call_count=1,
    )


def test_the_factor_row_is_created_by_the_migration():
    row = PriorityFactor.objects.get(key="intervention_works")
    assert (row.weight, row.threshold, row.is_enabled) == (Decimal("1.0"), Decimal("60.0"), True)


def test_zones_where_an_intervention_type_succeeds_often_enough():
    outcomes("WELLNESS_CHECK", Zone.YELLOW, success=13, partial=4, failed=3)  # 65%
    outcomes("WELLNESS_CHECK", Zone.ORANGE, success=3, failed=2)  # 60%: exactly the threshold
    outcomes("RE_ENGAGEMENT", Zone.RED, success=2, partial=3)  # 40%
    outcomes("RENEWAL", Zone.GREEN, success=4)  # 100%, but only 4 outcomes

    def zones(**kwargs) -> set[str]:
        return set(zones_where_interventions_work(**kwargs))

    assert zones(min_rate=60) == {"YELLOW", "ORANGE"}
    assert zones(min_rate=61) == {"YELLOW"}
    assert zones(min_rate=60, min_outcomes=4) == {"YELLOW", "ORANGE", "GREEN"}


def test_queue_priority_rises_for_clients_in_a_zone_where_interventions_work():
    yellow, red = client(Zone.YELLOW), client(Zone.RED)
    before = scored(yellow)[0], scored(red)[0]

    outcomes("WELLNESS_CHECK", Zone.YELLOW, success=13, partial=4, failed=3)
    outcomes("RE_ENGAGEMENT", Zone.RED, success=1, failed=4)

    (yellow_raw, yellow_reasons), (red_raw, red_reasons) = scored(yellow), scored(red)
    assert yellow_raw == before[0] + 1.0
    assert "interventions work for YELLOW clients" in yellow_reasons
    assert red_raw == before[1]
    assert not any("interventions work" in r for r in red_reasons)


def test_stored_queue_score_follows_the_rates_after_a_refresh():
    yellow = client(Zone.YELLOW)
    start = Contact.objects.get(pk=yellow.pk).queue_score

    outcomes("WELLNESS_CHECK", Zone.YELLOW, success=4, failed=1)
    queue_scores_refresh([yellow.pk])

    assert Contact.objects.get(pk=yellow.pk).queue_score == start + 10  # ten times the +1 weight


def test_the_factor_costs_the_queue_no_extra_query(django_assert_num_queries):
    outcomes("WELLNESS_CHECK", Zone.YELLOW, success=5)
    contact = client(Zone.YELLOW)
    factors = factors_active(now=timezone.now())

    with django_assert_num_queries(1):
        held = (
            Contact.objects.annotate(held=queue_factors_expression(factors))
            .values_list("held", flat=True)
            .get(pk=contact.pk)
        )

    assert "intervention_works," in held


def test_working_zones_are_read_once_then_cached_until_an_outcome_is_recorded(django_assert_num_queries):
    outcomes("WELLNESS_CHECK", Zone.YELLOW, success=5)
    assert zones_where_interventions_work(min_rate=60) == ["YELLOW"]
    with django_assert_num_queries(0):
        assert zones_where_interventions_work(min_rate=60) == ["YELLOW"]
    outcomes("RE_ENGAGEMENT", Zone.RED, success=5)
    assert zones_where_interventions_work(min_rate=60) == ["RED", "YELLOW"]
