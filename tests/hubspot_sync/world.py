"""A small HubSpot portal for the sync tests, put into the fake."""

from datetime import datetime, timedelta

from tests.fakes.hubspot_server import FakeHubSpot, iso

CONNECTED = "f240bbac-87c9-4f6e-bf70-924b57d47db7"
NO_ANSWER = "73a0d17f-1163-4015-bdd5-ec830791da20"
MEETING_BOOKED = "5e1ac2a8-0c7c-4a43-b7a4-4c6a1d7e2b90"  # the fake portal's custom outcome
UNKNOWN_GUID = "00000000-dead-beef-0000-000000000000"


def portal(fake: FakeHubSpot, at: datetime) -> None:
    """Owners (one deactivated), three contacts, two deals, three calls, two tasks."""
    fake.add_owner("11", first="Sam", last="Setter", email="sam@example.com", team="Dubai")
    fake.add_owner("12", first="Olga", last="Other", email="olga@example.com")
    fake.add_owner("13", first="Gone", last="Away", email="gone@example.com", archived=True)
    fake.put(
        "contacts",
        "101",
        modified=at,
        created=at - timedelta(days=10),
        firstname="Ali",
        lastname="Khan",
        email="ali@example.com",
        phone="050 123 4567",
        mobilephone="not a number",
        hubspot_owner_id="11",
        lifecyclestage="lead",
        hs_lead_status="NEW",
    )
    # Owned by a deactivated owner, and moved from Sam to Gone before we ever synced it.
    fake.put("contacts", "102", modified=at - timedelta(days=5), firstname="Bea", hubspot_owner_id="11")
    fake.put(
        "contacts",
        "102",
        modified=at,
        firstname="Bea",
        lastname="Lee",
        hubspot_owner_id="13",
        lifecyclestage="customer",
    )
    fake.put("contacts", "103", modified=at, firstname="Cy", hubspot_owner_id="12", lifecyclestage="1234567")
    fake.put(
        "deals",
        "501",
        modified=at,
        dealname="Gold package",
        amount="1500.5",
        pipeline="default",
        dealstage="appointmentscheduled",
        hubspot_owner_id="11",
        contacts=["101"],
    )
    fake.put(
        "deals",
        "502",
        modified=at,
        dealname="Renewal",
        amount="900",
        pipeline="7001",
        dealstage="1101",
        hubspot_owner_id="12",
        contacts=["103"],
    )
    call_at = at - timedelta(hours=3)
    fake.put(
        "calls",
        "801",
        modified=at,
        hs_timestamp=iso(call_at),
        hs_call_direction="OUTBOUND",
        hs_call_status="COMPLETED",
        hs_call_duration="360000",
        hs_call_disposition=CONNECTED,
        hs_call_title="Intro",
        hs_call_body="<p>Keen on <b>gold</b></p>",
        hubspot_owner_id="11",
        contacts=["101"],
    )
    fake.put(
        "calls",
        "802",
        modified=at,
        hs_timestamp=iso(call_at + timedelta(hours=1)),
        hs_call_direction="OUTBOUND",
        hs_call_status="COMPLETED",
        hs_call_duration="0",
        hs_call_disposition=UNKNOWN_GUID,
        hubspot_owner_id="11",
        contacts=["101"],
    )
    fake.put(
        "calls",
        "803",
        modified=at,
        hs_timestamp=iso(call_at),
        hs_call_direction="INBOUND",
        hs_call_status="NO_ANSWER",
        hs_call_disposition=NO_ANSWER,
        hubspot_owner_id="12",
        contacts=["103"],
    )
    fake.put(
        "tasks",
        "901",
        modified=at,
        hs_timestamp=iso(at - timedelta(days=1)),
        hs_task_subject="Call back",
        hs_task_status="NOT_STARTED",
        hs_task_type="CALL",
        hubspot_owner_id="11",
        contacts=["101"],
    )
    fake.put(
        "tasks",
        "902",
        modified=at,
        hs_timestamp=iso(at - timedelta(days=2)),
        hs_task_subject="Send offer",
        hs_task_status="COMPLETED",
        hs_task_completion_date=iso(at - timedelta(days=1)),
        hubspot_owner_id="11",
        contacts=["101"],
    )
