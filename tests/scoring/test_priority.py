"""The factor table and each factor's effect on priority and reasons."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from leads.models import Contact, PatternStatus, Zone
from scoring.factors import CONDITIONS, DEFAULTS
from scoring.models import PriorityFactor
from scoring.priority import priority_from_raw, reason_line, score_from_stored
from tests.factories import ContactFactory
from tests.scoring.helpers import scored

pytestmark = pytest.mark.django_db


def called_days_ago(days: int, **kwargs) -> Contact:
    """A contact whose last call was `days` days ago (facts set directly)."""
    moment = timezone.now() - timedelta(days=days)
    return ContactFactory(last_call_at=moment, call_count=1, outgoing_call_count=1, **kwargs)


def test_default_factor_rows_exist_for_every_condition():
    assert set(PriorityFactor.objects.values_list("key", flat=True)) == set(CONDITIONS)
    assert len(DEFAULTS) == len(CONDITIONS)


def test_base_only_for_a_contact_with_nothing_special():
    raw, reasons = scored(called_days_ago(2))
    assert raw == 3.0 and reasons == []


@pytest.mark.parametrize(
    ("zone", "weight"), [(Zone.RED, 3), (Zone.ORANGE, 2.5), (Zone.YELLOW, 2), (Zone.GREEN, 0)]
)
def test_zone_weights(zone, weight):
    raw, reasons = scored(called_days_ago(2, health_zone=zone))
    assert raw == 3 + weight
    assert reasons == ([f"{zone} zone"] if weight else [])


@pytest.mark.parametrize(
    ("days", "weight", "reason"),
    [(6, 0, None), (7, 1.5, "7 days"), (13, 1.5, "13 days"), (14, 2, "14 days"), (40, 2, "40 days")],
)
def test_days_without_contact_counts_only_the_stronger_band(days, weight, reason):
    raw, reasons = scored(called_days_ago(days))
    assert raw == 3 + weight
    assert reasons == ([f"{reason} no contact"] if reason else [])


@pytest.mark.parametrize(("risk", "weight"), [(59, 0), (60, 1), (74, 1), (75, 2), (99, 2)])
def test_predictive_risk_bands(risk, weight):
    raw, _ = scored(called_days_ago(1, predictive_risk=risk))
    assert raw == 3 + weight


def test_pattern_break_owner_change_and_package_end_add_their_weights():
    contact = called_days_ago(
        1,
        pattern_status=PatternStatus.PATTERN_BREAK,
        owner_changed_at=timezone.now() - timedelta(days=2),
        package_end_date=timezone.localdate() + timedelta(days=5),
    )
    raw, reasons = scored(contact)
    assert raw == 3 + 2 + 1.5 + 1
    assert reasons == ["pattern break", "owner changed 2 days ago", "package ends in 5 days"]


def test_overdue_task_and_open_deal_value():
    contact = called_days_ago(
        1, next_task_due_at=timezone.now() - timedelta(hours=1), open_deal_amount=Decimal("12500")
    )
    raw, reasons = scored(contact)
    assert raw == 3 + 2 + 1
    assert reasons == ["overdue callback", "open deal AED 12,500"]


def test_speed_to_lead_puts_a_minutes_old_lead_near_the_top():
    fresh = ContactFactory(hs_created_at=timezone.now() - timedelta(minutes=5, seconds=10))
    stale = ContactFactory(hs_created_at=timezone.now() - timedelta(days=3))
    raw_fresh, reasons_fresh = scored(fresh)
    raw_stale, reasons_stale = scored(stale)
    assert raw_fresh == 3 + 6 and priority_from_raw(raw_fresh) == 9
    assert reasons_fresh == ["NEW lead 5 min old, never called"]
    # an older lead never called still counts, but as "never called" only
    assert raw_stale == 3 + 1.5 and reasons_stale == ["never called"]


def test_ops_can_change_a_weight_and_disable_a_factor():
    contact = called_days_ago(2, health_zone=Zone.RED)
    PriorityFactor.objects.filter(key="zone_red").update(weight=Decimal("5.5"))
    assert scored(contact)[0] == 8.5
    PriorityFactor.objects.filter(key="zone_red").update(is_enabled=False)
    assert scored(contact) == (3.0, [])


def test_ops_can_change_a_threshold():
    contact = called_days_ago(10)
    PriorityFactor.objects.filter(key="no_contact_7_days").update(threshold=Decimal("10"))
    PriorityFactor.objects.filter(key="no_contact_14_days").update(threshold=Decimal("30"))
    assert scored(contact) == (4.5, ["10 days no contact"])


def test_priority_and_score_scale():
    assert [priority_from_raw(r) for r in (0, 1.4, 1.5, 7.4, 7.5, 14)] == [1, 1, 2, 7, 8, 10]
    assert [score_from_stored(s) for s in (-10, 0, 42, 120)] == [0, 0, 42, 100]


def test_reason_line_labels_urgent_and_high():
    reasons = ["RED zone", "14 days no contact", "owner changed 2 days ago"]
    assert reason_line(8, reasons) == "URGENT: RED zone · 14 days no contact · owner changed 2 days ago"
    assert reason_line(6, ["never called"]) == "HIGH: never called"
    assert reason_line(4, ["pattern break"]) == "Pattern break"
    assert reason_line(3, []) == "Due for follow-up"


def test_a_lapsed_snooze_is_a_follow_up_due_with_its_reason():
    from calls.models import QueueState

    contact = called_days_ago(1)
    QueueState.objects.create(
        contact=contact,
        snoozed_until=timezone.now() - timedelta(minutes=5),
        snooze_reason="Callback requested for 2 Mar 14:00",
    )
    raw, reasons = scored(contact)
    assert raw == 3 + 2
    assert reasons == ["follow-up due: Callback requested for 2 Mar 14:00"]


@time_machine.travel(datetime(2026, 3, 4, 10, 0, tzinfo=UTC), tick=False)
def test_reason_phrases_read_naturally():
    # At a fixed midday: an hour ago is "today" only when today began more than an hour ago (run
    # just after business midnight, it was yesterday, and the test failed by the clock).
    today = called_days_ago(1, owner_changed_at=timezone.now() - timedelta(hours=1))
    assert "owner changed today" in scored(today)[1]
    lead = ContactFactory(hs_created_at=timezone.now() - timedelta(hours=3, minutes=5))
    assert scored(lead)[1] == ["NEW lead 3h old, never called"]
