"""Thresholds and reasons, the mix and its shift toward A+, targets within the caps."""

from datetime import timedelta

import pytest

from campaigns.replenishment import largest_remainder, replenishment_plan
from campaigns.services import source_upload
from leads.models import LifecycleStage, Tier
from tests.campaigns.conftest import NOW, as_json, lead
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def stock(owner, *, a_plus=0, a=0, b=0, untiered=0):
    for tier, count in ((Tier.A_PLUS, a_plus), (Tier.A, a), (Tier.B, b), ("", untiered)):
        ContactFactory.create_batch(count, owner=owner, tier=tier)


def test_reasons_name_each_threshold_that_is_not_met(config, team):
    stock(team[0], a_plus=3, a=20, b=15, untiered=3)
    plan = replenishment_plan(at=NOW)
    assert plan.reasons == [
        "total leads 41 below minimum 50",
        "A+ leads 3 below minimum 10",
        "A leads 20 below minimum 30",
        "B leads 15 below minimum 20",
    ]


def test_no_reason_and_no_target_when_levels_are_sufficient(config, team):
    stock(team[0], a_plus=10, a=30, b=20)
    plan = replenishment_plan(at=NOW)
    assert plan.reasons == [] and plan.targets == {} and not plan.needed


def test_leads_that_are_not_workable_do_not_count(config, team):
    stock(team[0], a_plus=10, a=30, b=20)
    ContactFactory.create_batch(5, owner=team[0], tier=Tier.A_PLUS, lifecycle_stage=LifecycleStage.CUSTOMER)
    ContactFactory(owner=team[0], tier=Tier.A, is_archived=True)
    ContactFactory(owner=team[0], tier=Tier.A, do_not_contact=True)
    ContactFactory(owner=team[0], tier=Tier.A, lead_status="UNQUALIFIED")
    ContactFactory(tier=Tier.A, owner__is_active=False)
    plan = replenishment_plan(at=NOW)
    assert plan.inventory.total == 60 and plan.inventory.by_tier == {"A+": 10, "A": 30, "B": 20}
    # unassigned leads are inventory too (they are assignable)
    ContactFactory(owner=None, tier=Tier.B)
    assert replenishment_plan(at=NOW).inventory.unassigned == 1


def test_only_a_tier_short_fills_just_that_tier(config, team):
    stock(team[0], a_plus=3, a=40, b=30)
    plan = replenishment_plan(at=NOW)
    assert plan.reasons == ["A+ leads 3 below minimum 10"]
    assert plan.targets == {"A+": 7, "A": 0, "B": 0}


def test_total_below_minimum_fills_to_target_by_the_mix_with_each_tiers_shortfall_first(config, team):
    config.max_per_run = 200
    config.max_per_day = 500
    config.save()
    stock(team[0], a_plus=12, a=20, b=8)
    plan = replenishment_plan(at=NOW)
    # 110 to the target of 150: by the mix 22 / 55 / 33; every tier's shortfall (A 10, B 12) is covered
    assert plan.targets == {"A+": 22, "A": 55, "B": 33}


def test_targets_stay_within_the_per_run_cap_shortfalls_first(config, team):
    config.max_per_run = 10
    config.save()
    plan = replenishment_plan(at=NOW)  # nothing in stock: short 10 / 30 / 20
    assert sum(plan.targets.values()) == 10
    assert plan.targets == {"A+": 2, "A": 5, "B": 3}  # the shortfalls' proportions


def test_mix_shifts_toward_a_plus_when_a_plus_converts_well(config, team):
    recent = NOW - timedelta(days=5)
    ContactFactory.create_batch(6, owner=team[0], tier=Tier.A_PLUS, hs_created_at=recent)
    ContactFactory.create_batch(
        4, owner=team[0], tier=Tier.A_PLUS, hs_created_at=recent, booking_count=1, call_count=1
    )
    plan = replenishment_plan(at=NOW)
    assert plan.inventory.conversion["A+"].percent == 40
    assert plan.mix == {"A+": 30, "A": 44, "B": 26}
    assert plan.mix_note == (
        "A+ converts at 40% over 30 days (at least 25%): mix shifted to A+ 30% / A 44% / B 26%"
    )


def test_mix_does_not_shift_on_too_few_a_plus_leads(config, team):
    recent = NOW - timedelta(days=5)
    ContactFactory.create_batch(
        9, owner=team[0], tier=Tier.A_PLUS, hs_created_at=recent, booking_count=1, call_count=1
    )
    plan = replenishment_plan(at=NOW)
    assert plan.inventory.conversion["A+"].percent == 100
    assert plan.mix == {"A+": 20, "A": 50, "B": 30} and plan.mix_note == ""


def test_conversion_looks_at_the_last_30_days_only(config, team):
    ContactFactory.create_batch(
        3, owner=team[0], tier=Tier.B, hs_created_at=NOW - timedelta(days=31), booking_count=1, call_count=1
    )
    ContactFactory(owner=team[0], tier=Tier.B, hs_created_at=NOW - timedelta(days=29))
    assert replenishment_plan(at=NOW).inventory.conversion["B"].leads == 1


def test_selection_takes_the_best_scores_per_tier(config, team):
    config.max_per_run = 3
    config.save()
    rows = [lead(i, tier="", score=score) for i, score in enumerate([55, 91, 62, 85, 70, 30])]
    source_upload(name="scored", file_name="scored.json", data=as_json(rows))
    plan = replenishment_plan(at=NOW)
    # short 10 / 30 / 20 -> 1 / 1 / 1 within 3; A+ >= 80, A >= 60
    assert [(row.score, tier) for row, tier in plan.selected] == [(91, "A+"), (70, "A"), (55, "B")]


def test_a_short_tier_is_filled_from_others_when_the_total_is_below_minimum(config, team):
    config.max_per_run = 10
    config.save()
    source_upload(name="only B", file_name="b.json", data=as_json([lead(i, tier="B") for i in range(12)]))
    plan = replenishment_plan(at=NOW)
    assert len(plan.selected) == 10
    assert "A+: wanted 2, only 0 new" in plan.selection_notes


@pytest.mark.parametrize(
    ("total", "weights", "caps", "expected"),
    [
        (109, {"A+": 20, "A": 50, "B": 30}, None, {"A+": 22, "A": 54, "B": 33}),
        (10, {"A+": 7, "A": 0, "B": 0}, None, {"A+": 10, "A": 0, "B": 0}),
        (10, {"A+": 20, "A": 50, "B": 30}, {"A+": 0, "A": 3, "B": 100}, {"A+": 0, "A": 3, "B": 7}),
        (5, {"A+": 0, "A": 0, "B": 0}, None, {"A+": 0, "A": 0, "B": 0}),
    ],
)
def test_largest_remainder_splits_whole_numbers_in_proportion(total, weights, caps, expected):
    assert largest_remainder(total, weights, caps=caps) == expected
