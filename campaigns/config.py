"""The replenishment configuration as JSON: read (the command's --config, the admin's "load from
file") and written (to start a file from the current values).

The layout is the original system's automation_config.json, plus the parts it kept in code:

    {
      "enabled": true,
      "lead_inventory_thresholds": {
        "min_total_leads": 50, "target_total_leads": 150,
        "min_priority_leads": {"A+": 10, "A": 30, "B": 20}
      },
      "upload_controls": {
        "max_upload_per_run": 100, "max_daily_uploads": 500, "min_time_between_uploads_hours": 1
      },
      "mix": {"A+": 20, "A": 50, "B": 30},
      "performance": {"a_plus_high_conversion_percent": 25, "a_plus_shift_points": 10,
                      "conversion_min_leads": 10},
      "tier_from_score": {"A+": 80, "A": 60},
      "business_hours": {"start": "09:00", "end": "18:00", "weekdays": [1, 2, 3, 4, 5]}
    }

Every part is optional (what is left out keeps the default); an unknown key is an error, so a typo
never silently falls back to a default.
"""

import json
from datetime import time
from decimal import Decimal, InvalidOperation

from campaigns.models import ReplenishmentConfig

# JSON path -> model field.
INT_FIELDS = {
    ("lead_inventory_thresholds", "min_total_leads"): "min_total_leads",
    ("lead_inventory_thresholds", "target_total_leads"): "target_total_leads",
    ("lead_inventory_thresholds", "min_priority_leads", "A+"): "min_a_plus_leads",
    ("lead_inventory_thresholds", "min_priority_leads", "A"): "min_a_leads",
    ("lead_inventory_thresholds", "min_priority_leads", "B"): "min_b_leads",
    ("upload_controls", "max_upload_per_run"): "max_per_run",
    ("upload_controls", "max_daily_uploads"): "max_per_day",
    ("mix", "A+"): "mix_a_plus",
    ("mix", "A"): "mix_a",
    ("mix", "B"): "mix_b",
    ("performance", "a_plus_high_conversion_percent"): "a_plus_high_conversion_percent",
    ("performance", "a_plus_shift_points"): "a_plus_shift_points",
    ("performance", "conversion_min_leads"): "conversion_min_leads",
    ("tier_from_score", "A+"): "tier_a_plus_min_score",
    ("tier_from_score", "A"): "tier_a_min_score",
}
COOLDOWN = ("upload_controls", "min_time_between_uploads_hours")
BUSINESS_HOURS = "business_hours"


class ConfigFileError(ValueError):
    pass


def config_from_json(text: str, *, base: ReplenishmentConfig | None = None) -> ReplenishmentConfig:
    """A validated configuration (not saved) from JSON text, over `base` (default: S9 defaults).

    Raises ConfigFileError (bad JSON, unknown key, wrong type) or ValidationError (bad values).
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigFileError(
            f"not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}"
        ) from None
    if not isinstance(document, dict):
        raise ConfigFileError("expected a JSON object")
    config = base if base is not None else ReplenishmentConfig(pk=1)
    known_paths = {*INT_FIELDS, COOLDOWN}
    for path, value in _leaves(document):
        if path == ("enabled",):
            if not isinstance(value, bool):
                raise ConfigFileError("enabled must be true or false")
            config.is_enabled = value
        elif path[0] == BUSINESS_HOURS:
            continue
        elif path not in known_paths:
            raise ConfigFileError(f"unknown setting {'.'.join(path)!r}")
        elif path == COOLDOWN:
            config.cooldown_minutes = round(_number(path, value) * 60)
        else:
            setattr(config, INT_FIELDS[path], int(_number(path, value, whole=True)))
    if BUSINESS_HOURS in document:
        _business_hours(config, document[BUSINESS_HOURS])
    config.full_clean(exclude=["id"])
    return config


def config_to_json(config: ReplenishmentConfig) -> str:
    document: dict = {"enabled": config.is_enabled}
    for path, field_name in INT_FIELDS.items():
        node = document
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = getattr(config, field_name)
    document["upload_controls"]["min_time_between_uploads_hours"] = config.cooldown_minutes / 60
    document[BUSINESS_HOURS] = (
        {
            "start": f"{config.business_hours_start:%H:%M}",
            "end": f"{config.business_hours_end:%H:%M}",
            "weekdays": sorted(config.weekdays()),
        }
        if config.has_business_hours()
        else None
    )
    return json.dumps(document, indent=2)


def _leaves(document: dict, prefix: tuple = ()):
    for key, value in document.items():
        path = (*prefix, key)
        if isinstance(value, dict) and path[0] != BUSINESS_HOURS:
            yield from _leaves(value, path)
        else:
            yield path, value


def _number(path: tuple, value, *, whole: bool = False) -> Decimal:
    name = ".".join(path)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigFileError(f"{name} must be a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ConfigFileError(f"{name} must be a number") from None
    if not number.is_finite() or number < 0:
        raise ConfigFileError(f"{name} must be zero or more")
    if whole and number != number.to_integral_value():
        raise ConfigFileError(f"{name} must be a whole number")
    return number


def _business_hours(config: ReplenishmentConfig, value) -> None:
    if value is None:
        config.business_hours_start = config.business_hours_end = None
        return
    if not isinstance(value, dict) or set(value) - {"start", "end", "weekdays"}:
        raise ConfigFileError(
            'business_hours must be null or {"start": "HH:MM", "end": "HH:MM", "weekdays": [...]}'
        )
    try:
        config.business_hours_start = time.fromisoformat(value["start"])
        config.business_hours_end = time.fromisoformat(value["end"])
    except (KeyError, TypeError, ValueError):
        raise ConfigFileError("business_hours start and end must be times like 09:00") from None
    if "weekdays" in value:
        weekdays = value["weekdays"]
        if not isinstance(weekdays, list) or not all(isinstance(day, int) for day in weekdays):
            raise ConfigFileError(
                "business_hours.weekdays must be a list of ISO weekdays, e.g. [1, 2, 3, 4, 5]"
            )
        config.business_weekdays = ",".join(str(day) for day in weekdays)
