"""Replenishment fixtures: lead files on disk, a saved configuration, owners to assign to."""

import csv
import io
import json
from datetime import datetime

import pytest
from django.utils import timezone

from campaigns.models import ReplenishmentConfig
from tests.factories import OwnerFactory

# A Tuesday mid-morning in the business zone: inside any sensible business hours.
NOW = timezone.make_aware(datetime(2026, 3, 3, 10, 0))


def lead(n: int, *, tier: str = "A", score: float | None = None, **fields) -> dict:
    row = {"name": f"Lead {n}", "email": f"prospect{n}@example.org", "phone": f"+97155{n:07d}", "tier": tier}
    if score is not None:
        row["score"] = score
    row.update(fields)
    return row


def as_json(rows: list[dict]) -> str:
    return json.dumps(rows, indent=2)


def as_csv(rows: list[dict]) -> str:
    columns = sorted({key for row in rows for key in row})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


@pytest.fixture
def config(db) -> ReplenishmentConfig:
    return ReplenishmentConfig.objects.create(pk=1)


@pytest.fixture
def team(db):
    """Two setters with room for plenty of leads."""
    return [OwnerFactory(daily_call_capacity=200), OwnerFactory(daily_call_capacity=200)]


@pytest.fixture
def lead_file(tmp_path):
    def write(name: str, text: str):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
