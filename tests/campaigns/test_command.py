"""`manage.py replenish`: one clear line per step, sources by path, a config file, dry runs."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from campaigns.models import ReplenishmentRun, ReplenishmentSource, SourceKind
from leads.models import Contact
from tests.campaigns.conftest import as_csv, as_json, lead

pytestmark = pytest.mark.django_db


def replenish(*args: str) -> list[str]:
    out = StringIO()
    call_command("replenish", *args, stdout=out)
    return out.getvalue().splitlines()


def test_once_with_two_sources_prints_each_step(config, team, lead_file):
    first = lead_file("hot_leads.json", as_json([lead(i, tier="A+") for i in range(4)]))
    second = lead_file(
        "expo.csv", as_csv([lead(3, tier="B"), lead(10, tier="B"), lead(11, tier="B", email="bad")])
    )

    lines = replenish("--once", "--source", str(first), "--source", str(second))

    assert lines[0] == "Source 'hot_leads.json': 4 good rows, 0 bad rows"
    assert lines[1:3] == ["Source 'expo.csv': 2 good rows, 1 bad row", "  line 4: email 'bad' is not valid"]
    assert lines[3] == "Starting replenishment run"
    assert lines[4].startswith("Metrics: 0 available leads (A+ 0, A 0, B 0, untiered 0; 0 unassigned)")
    assert lines[5] == (
        "Reasons: total leads 0 below minimum 50; A+ leads 0 below minimum 10; A leads 0 below minimum 30; "
        "B leads 0 below minimum 20"
    )
    assert lines[6] == "Targets: A+ 18, A 50, B 32 (at most 100 this run: 100 per run, 500 per day)"
    assert lines[7] == "Found: 6 waiting rows in the active sources (1 duplicate)"
    assert lines[8].startswith("Selected: 5 leads for upload (A+ 4, A 0, B 1)")
    assert lines[9] == "Created: 5 contacts · 1 duplicate skipped · 0 errors"
    assert lines[10].startswith("Assigned: 5 leads (")
    assert lines[11].startswith("Done in ")
    assert ReplenishmentSource.objects.filter(kind=SourceKind.PATH).count() == 2
    assert ReplenishmentRun.objects.get().trigger == "command"


def test_dry_run_creates_nothing(config, team, lead_file):
    path = lead_file("hot_leads.json", as_json([lead(1)]))
    lines = replenish("--dry-run", "--source", str(path))
    assert "Starting replenishment run (dry run: nothing will be created or assigned)" in lines
    assert any(line.startswith("Would assign: 1 lead (") for line in lines)
    assert not Contact.objects.exists() and not ReplenishmentRun.objects.exists()


def test_config_file_is_used_for_the_run_and_not_saved(config, team, lead_file):
    settings_file = lead_file(
        "demo_automation_config.json",
        json.dumps({"lead_inventory_thresholds": {"min_total_leads": 2, "target_total_leads": 60}}),
    )
    lines = replenish("--config", str(settings_file), "--dry-run")
    assert lines[0] == f"Configuration from {settings_file} (not saved)"
    assert any(line.startswith("Reasons: total leads 0 below minimum 2;") for line in lines)
    config.refresh_from_db()
    assert config.min_total_leads == 50


def test_bad_config_file_stops_with_a_message(config, lead_file):
    settings_file = lead_file("bad.json", '{"upload_controls": {"max_upload_per_run": 900}}')
    with pytest.raises(CommandError, match="max_per_run: At most per run \\(900\\) is above at most per day"):
        replenish("--config", str(settings_file))


def test_bad_source_file_stops_with_a_message_and_adds_nothing(config, lead_file):
    path = lead_file("broken.json", "[{")
    with pytest.raises(CommandError, match=r"broken\.json is not valid JSON"):
        replenish("--source", str(path))
    assert not ReplenishmentSource.objects.exists()


def test_sufficient_levels_say_so(config, team):
    from tests.factories import ContactFactory

    for tier, count in (("A+", 10), ("A", 30), ("B", 20)):
        ContactFactory.create_batch(count, owner=team[0], tier=tier)
    lines = replenish("--once")
    assert "Lead levels sufficient, no upload needed" in lines


def test_interval_must_be_positive(db):
    with pytest.raises(CommandError, match="at least 1 minute"):
        replenish("--continuous", "--interval", "0")
