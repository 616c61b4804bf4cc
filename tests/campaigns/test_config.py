"""The configuration: S9 defaults, validation with messages, loading from JSON."""

import json
from datetime import time

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from campaigns.config import ConfigFileError, config_from_json, config_to_json
from campaigns.models import ReplenishmentConfig

# Model validation checks the table's constraints with a query.
pytestmark = pytest.mark.django_db


def test_defaults_are_those_of_spec_s9():
    config = ReplenishmentConfig()
    assert (config.min_total_leads, config.target_total_leads) == (50, 150)
    assert config.tier_minimums() == {"A+": 10, "A": 30, "B": 20}
    assert (config.max_per_run, config.max_per_day, config.cooldown_minutes) == (100, 500, 60)
    assert config.mix() == {"A+": 20, "A": 50, "B": 30}
    assert not config.has_business_hours()
    config.full_clean(exclude=["id"])


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"target_total_leads": 40}, "target_total_leads", "The target (40) is below the minimum (50)."),
        ({"target_total_leads": 55}, "target_total_leads", "below the tier minimums together (60)"),
        ({"mix_b": 40}, "mix_b", "The mix must add up to 100% (it adds up to 110%)."),
        ({"max_per_run": 600}, "max_per_run", "At most per run (600) is above at most per day (500)."),
        ({"max_per_run": 0}, "max_per_run", "at least 1"),
        ({"tier_a_min_score": 90}, "tier_a_min_score", "must not be above the A+ score"),
        ({"business_hours_start": time(9)}, "business_hours_end", "Give both ends"),
        (
            {"business_hours_start": time(18), "business_hours_end": time(9)},
            "business_hours_end",
            "must end after they start",
        ),
        ({"business_weekdays": "1,8"}, "business_weekdays", "list ISO weekdays 1-7"),
    ],
)
def test_invalid_configuration_is_an_error_with_a_message(changes, field, message):
    config = ReplenishmentConfig(pk=1, **changes)
    with pytest.raises(ValidationError) as raised:
        config.full_clean(exclude=["id"])
    assert message in " ".join(raised.value.message_dict[field])


def test_the_database_refuses_a_target_below_its_minimum():
    with pytest.raises(IntegrityError):
        ReplenishmentConfig.objects.create(pk=1, target_total_leads=10)


def test_loads_the_original_systems_json_layout():
    text = json.dumps(
        {
            "lead_inventory_thresholds": {
                "min_total_leads": 120,
                "target_total_leads": 200,
                "min_priority_leads": {"A+": 15, "A": 40, "B": 20},
            },
            "upload_controls": {
                "max_upload_per_run": 50,
                "max_daily_uploads": 300,
                "min_time_between_uploads_hours": 0.5,
            },
            "business_hours": {"start": "09:00", "end": "18:00", "weekdays": [1, 2, 3, 4, 5]},
        }
    )
    config = config_from_json(text)
    assert (config.min_total_leads, config.target_total_leads) == (120, 200)
    assert config.tier_minimums() == {"A+": 15, "A": 40, "B": 20}
    assert (config.max_per_run, config.max_per_day, config.cooldown_minutes) == (50, 300, 30)
    assert config.business_hours_label() == "09:00-18:00" and config.weekdays() == {1, 2, 3, 4, 5}
    assert config.mix() == {"A+": 20, "A": 50, "B": 30}  # left out: the default


def test_round_trips_through_json():
    config = ReplenishmentConfig(pk=1, min_total_leads=70, mix_a_plus=30, mix_a=40, cooldown_minutes=90)
    again = config_from_json(config_to_json(config))
    assert (again.min_total_leads, again.mix(), again.cooldown_minutes) == (70, config.mix(), 90)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "expected a JSON object"),
        (
            '{"upload_controls": {"max_uploads_per_run": 5}}',
            "unknown setting 'upload_controls.max_uploads_per_run'",
        ),
        ('{"mix": {"A+": "lots"}}', "mix.A+ must be a number"),
        ('{"mix": {"A+": 20.5}}', "mix.A+ must be a whole number"),
        ('{"lead_inventory_thresholds": {"min_total_leads": -1}}', "must be zero or more"),
        ('{"enabled": "yes"}', "enabled must be true or false"),
        ('{"business_hours": {"start": "nine", "end": "18:00"}}', "times like 09:00"),
    ],
)
def test_a_bad_file_is_refused_with_what_is_wrong(text, message):
    with pytest.raises(
        ConfigFileError, match=message.replace("(", r"\(").replace("+", r"\+").replace(".", r"\.")
    ):
        config_from_json(text)


def test_values_that_break_a_rule_are_refused_like_in_the_admin():
    with pytest.raises(ValidationError) as raised:
        config_from_json('{"lead_inventory_thresholds": {"min_total_leads": 300}}')
    assert "The target (150) is below the minimum (300)." in raised.value.message_dict["target_total_leads"]
