"""HubSpot payloads to our fields: call outcomes from disposition GUIDs, values as strings."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from calls.models import CallOutcome, CallStatus, Direction
from hubspot_sync import mapping
from tests.hubspot_sync.world import CONNECTED, MEETING_BOOKED, NO_ANSWER, UNKNOWN_GUID

LABELS = {**mapping.DEFAULT_DISPOSITIONS, MEETING_BOOKED: "Meeting booked"}


def _call(**properties):
    return {"id": "1", "properties": {"hs_timestamp": "2026-03-02T09:00:00.000Z", **properties}}


@pytest.mark.parametrize(
    ("properties", "status", "outcome"),
    [
        (
            {"hs_call_disposition": CONNECTED, "hs_call_status": "COMPLETED"},
            CallStatus.ANSWERED,
            CallOutcome.CONNECTED,
        ),
        ({"hs_call_disposition": NO_ANSWER, "hs_call_status": "COMPLETED"}, CallStatus.NO_ANSWER, ""),
        (
            {"hs_call_disposition": "b2cf5968-551e-4856-9783-52b3da59a7d0"},
            CallStatus.VOICEMAIL,
            CallOutcome.LEFT_MESSAGE,
        ),
        (
            {"hs_call_disposition": "a4c4c377-d246-4b32-a13b-75a56a4cd0ff"},
            CallStatus.ANSWERED,
            CallOutcome.LEFT_MESSAGE,
        ),
        ({"hs_call_disposition": "9d9162e7-6cf3-4944-bf63-4dff82258764"}, CallStatus.BUSY, ""),
        (
            {"hs_call_disposition": "17b47fee-58de-441e-a44c-c6300d46f273"},
            CallStatus.ANSWERED,
            CallOutcome.WRONG_NUMBER,
        ),
        ({"hs_call_disposition": MEETING_BOOKED}, CallStatus.ANSWERED, CallOutcome.BOOKED),
        (
            {"hs_call_disposition": UNKNOWN_GUID, "hs_call_status": "COMPLETED"},
            CallStatus.ANSWERED,
            CallOutcome.OTHER,
        ),
        ({"hs_call_status": "NO_ANSWER"}, CallStatus.NO_ANSWER, ""),
        ({"hs_call_status": "FAILED"}, CallStatus.FAILED, ""),
        ({"hs_call_status": "COMPLETED", "hs_call_duration": "95000"}, CallStatus.ANSWERED, ""),
    ],
)
def test_call_outcome_and_status_from_the_disposition_guid(properties, status, outcome):
    fields = mapping.call_fields(_call(**properties), LABELS)
    assert (fields["status"], fields["outcome"]) == (status, outcome)


def test_call_values_arrive_as_strings():
    fields = mapping.call_fields(
        _call(
            hs_call_duration="360000", hs_call_direction="INBOUND", hs_call_body="<p>Hi&nbsp;<b>there</b></p>"
        ),
        LABELS,
    )
    assert fields["duration_seconds"] == 360
    assert fields["direction"] == Direction.INBOUND
    assert fields["started_at"] == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-09-11T13:27:39.356Z", datetime(2024, 9, 11, 13, 27, 39, 356000, tzinfo=UTC)),
        ("1700000000000", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ("", None),
        (None, None),
        ("garbage", None),
    ],
)
def test_moments_from_iso_or_epoch_milliseconds(value, expected):
    assert mapping.moment(value) == expected


def test_money_is_two_decimals_and_never_negative():
    assert mapping.money("1500.5") == Decimal("1500.50")
    assert mapping.money("") is None
    assert mapping.money("-3") is None
    assert mapping.money("abc") is None


def test_owner_transitions_skip_the_first_assignment_and_repeats_in_any_order():
    record = {
        "propertiesWithHistory": {
            "hubspot_owner_id": [
                {"value": "12", "timestamp": "2026-01-03T00:00:00.000Z", "sourceType": "CRM_UI"},
                {"value": "11", "timestamp": "2026-01-01T00:00:00.000Z", "sourceType": "IMPORT"},
                {"value": "11", "timestamp": "2026-01-02T00:00:00.000Z", "sourceType": "API"},
                {"value": "", "timestamp": "2026-01-04T00:00:00.000Z", "sourceType": "WORKFLOWS"},
            ]
        }
    }
    transitions = mapping.owner_transitions(record)
    assert [(t.from_owner, t.to_owner, t.at.day) for t in transitions] == [("11", "12", 3), ("12", "", 4)]


def test_merged_ids_leave_out_the_record_itself():
    record = {"id": "5", "properties": {"hs_merged_object_ids": "3;5;;4"}}
    assert mapping.merged_ids(record) == ["3", "4"]
