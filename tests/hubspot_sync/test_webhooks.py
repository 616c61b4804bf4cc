"""POST /hooks/hubspot/: v3 signature, dedup of repeated deliveries, re-fetch of changed records."""

import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from hubspot_sync import services
from hubspot_sync.models import SyncCursor, WebhookEvent
from hubspot_sync.signatures import signature_v3
from leads.models import Contact, Deal, OwnerChange, OwnerChangeSource
from tests.hubspot_sync.conftest import T0, sent_requests
from tests.hubspot_sync.world import portal

pytestmark = pytest.mark.django_db

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
URL = "http://testserver/hooks/hubspot/"


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.HUBSPOT_CLIENT_SECRET = SECRET
    settings.HUBSPOT_WEBHOOK_URL = ""


def _event(event_id=1, object_id=101, kind="contact.propertyChange", occurred=None, **extra):
    return {
        "eventId": event_id,
        "subscriptionId": 25,
        "portalId": 33,
        "appId": 1160452,
        "occurredAt": occurred or int(time.time() * 1000),
        "subscriptionType": kind,
        "attemptNumber": 0,
        "objectId": object_id,
        "propertyName": "hubspot_owner_id",
        "propertyValue": "12",
        "changeSource": "CRM_UI",
        **extra,
    }


def _post(client, events, *, secret=SECRET, timestamp=None, signature=None, url=URL):
    body = json.dumps(events).encode()
    timestamp = str(timestamp if timestamp is not None else int(time.time() * 1000))
    signature = signature or signature_v3(
        secret=secret, method="POST", url=url, body=body, timestamp=timestamp
    )
    return client.post(
        "/hooks/hubspot/",
        data=body,
        content_type="application/json",
        headers={"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": timestamp},
    )


def test_signature_matches_the_documented_v3_vector():
    # the reference's self-made vector: POST + URL + the v1 doc body + timestamp
    body = (
        b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
        b'"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM",'
        b'"changeFlag":"NEW","appId":54321}]'
    )
    signature = signature_v3(
        secret=SECRET,
        method="POST",
        url="https://crm.example.com/hooks/hubspot/",
        body=body,
        timestamp="1700000000000",
    )
    assert signature == "4bVjvKwj6mov9pN8ERh+tQ6ax1fgfqPdgKBLiMnJIZQ="


def test_a_signed_delivery_is_stored_and_answered_at_once(client):
    response = _post(client, [_event(1), _event(2, object_id=102)])
    assert response.status_code == 200
    assert response.json() == {"received": 2, "new": 2}
    assert WebhookEvent.objects.filter(processed_at__isnull=True).count() == 2


def test_a_bad_signature_is_rejected_with_401(client):
    response = _post(client, [_event()], signature="bm90IHRoZSBzaWduYXR1cmU=")
    assert response.status_code == 401
    assert "does not match" in response.json()["error"]
    assert not WebhookEvent.objects.exists()


def test_a_delivery_signed_with_another_secret_is_rejected(client):
    assert _post(client, [_event()], secret="someone-else").status_code == 401


def test_a_stale_timestamp_is_rejected_even_with_a_good_signature(client):
    six_minutes_ago = int((time.time() - 360) * 1000)
    response = _post(client, [_event()], timestamp=six_minutes_ago)
    assert response.status_code == 401
    assert "5 minutes" in response.json()["error"]


def test_the_public_url_setting_is_what_is_signed_behind_a_proxy(client, settings):
    settings.HUBSPOT_WEBHOOK_URL = "https://crm.example.com/hooks/hubspot/"
    assert _post(client, [_event()]).status_code == 401  # signed for the internal URL
    assert _post(client, [_event()], url="https://crm.example.com/hooks/hubspot/").status_code == 200


def test_a_replayed_or_repeated_delivery_stores_each_event_once(client):
    events = [_event(7, occurred=1_700_000_000_000), _event(7, object_id=102, occurred=1_700_000_000_000)]
    assert _post(client, events).json() == {"received": 2, "new": 2}
    # HubSpot retries the same delivery (a fresh signature and timestamp), in another order
    assert _post(client, list(reversed(events))).json() == {"received": 2, "new": 0}
    assert WebhookEvent.objects.count() == 2


def test_wrong_method_and_bad_bodies(client):
    assert client.get("/hooks/hubspot/").status_code == 405
    response = _post(client, {"not": "a list"})
    assert response.status_code == 400


def test_an_absurd_timestamp_header_is_rejected_with_401_not_a_500(client):
    response = _post(client, [_event()], timestamp="9" * 400)
    assert response.status_code == 401
    assert "epoch milliseconds" in response.json()["error"]
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"subscriptionId": "abc"}, "subscriptionId is not a whole number"),
        ({"eventId": "1.5"}, "eventId is not a whole number"),
        ({"eventId": 1.5}, "eventId is not a whole number"),
        ({"eventId": 2**63}, "eventId is out of range"),
        ({"occurredAt": 99999999999999999}, "occurredAt is out of range"),
        ({"occurredAt": "next tuesday"}, "occurredAt is not a date"),
        ({"objectId": None}, "objectId is missing"),
        ({"objectId": True}, "objectId is not a whole number"),
    ],
)
def test_a_bad_event_is_reported_and_the_good_ones_of_its_delivery_are_stored(client, caplog, bad, reason):
    # given a signed delivery: a good event, a bad one, a good one
    events = [_event(1, object_id=101), _event(2, object_id=102, **bad), _event(3, object_id=103)]

    # when
    response = _post(client, events)

    # then
    assert response.status_code == 200
    assert response.json() == {"received": 3, "new": 2, "rejected": 1, "reasons": [f"event 1: {reason}"]}
    assert set(WebhookEvent.objects.values_list("object_id", flat=True)) == {"101", "103"}
    assert "hubspot.webhook_events_rejected" in caplog.text


def test_an_item_that_is_not_an_object_is_reported_not_a_400(client):
    response = _post(client, [_event(1), "oops", 7])
    assert response.status_code == 200
    assert response.json()["new"] == 1
    assert response.json()["rejected"] == 2


def test_a_body_that_is_not_json_is_a_400(client):
    response = client.post("/hooks/hubspot/", data=b"{nope", content_type="application/json")
    assert response.status_code == 401  # unsigned first
    body = b"{nope"
    timestamp = str(int(time.time() * 1000))
    signature = signature_v3(secret=SECRET, method="POST", url=URL, body=body, timestamp=timestamp)
    response = client.post(
        "/hooks/hubspot/",
        data=body,
        content_type="application/json",
        headers={"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": timestamp},
    )
    assert response.status_code == 400


def test_an_iso_occurred_at_and_string_ids_are_still_accepted(client):
    event = _event(1, occurred="2024-01-02T03:04:05.678Z", eventId="9", subscriptionId="25", objectId="101")
    assert _post(client, [event]).json() == {"received": 1, "new": 1}
    stored = WebhookEvent.objects.get()
    assert (stored.event_id, stored.object_id) == (9, "101")
    assert stored.occurred_at.isoformat() == "2024-01-02T03:04:05.678000+00:00"


def test_processing_re_fetches_changed_records_and_applies_deletions(fake_hubspot, client, settings):
    # given a synced portal
    portal(fake_hubspot, T0)
    services.sync_all(full=True, client=_client())
    # then in HubSpot: Ali moved to Olga, deal 501 deleted
    moved_at = T0 + timedelta(hours=1)
    fake_hubspot.put("contacts", "101", modified=moved_at, hubspot_owner_id="12")
    fake_hubspot.archive("deals", "501")
    # delivered out of order, one twice
    _post(client, [_event(2, object_id=101), _event(3, object_id=501, kind="deal.deletion")])
    _post(client, [_event(2, object_id=101)])

    # when
    runs = services.webhook_events_process(client=_client())

    # then
    assert {r.object_type: r.status for r in runs} == {"contacts": "succeeded", "deals": "succeeded"}
    ali = Contact.objects.get(hubspot_id="101")
    assert ali.owner.hubspot_id == "12"
    change = OwnerChange.objects.get(contact=ali)
    assert (change.changed_at, change.source) == (moved_at, OwnerChangeSource.WEBHOOK)
    assert Deal.objects.get(hubspot_id="501").is_archived is True
    assert ali.open_deal_amount is None
    assert not WebhookEvent.objects.filter(processed_at__isnull=True).exists()

    # and processing again does nothing more
    assert services.webhook_events_process(client=_client()) == []
    assert OwnerChange.objects.filter(contact=ali).count() == 1


def test_processing_sends_no_hubspot_request_inside_a_transaction(fake_hubspot, client):
    # given a synced portal, then in HubSpot: Ali moved to Olga, deal 502 changed
    portal(fake_hubspot, T0)
    services.sync_all(full=True, client=_client())
    changed_at = T0 + timedelta(hours=1)
    fake_hubspot.put("contacts", "101", modified=changed_at, hubspot_owner_id="12")
    fake_hubspot.put("deals", "502", modified=changed_at, amount="1200")
    _post(client, [_event(1, object_id=101), _event(2, object_id=502, kind="deal.propertyChange")])
    hubspot = _client()
    sent = sent_requests(hubspot)

    # when
    runs = services.webhook_events_process(client=hubspot)

    # then the re-read records, their associations and the deal stages were all read outside
    # any transaction
    assert {r.object_type: r.status for r in runs} == {"contacts": "succeeded", "deals": "succeeded"}
    assert {
        "/crm/v3/objects/contacts/batch/read",
        "/crm/v3/objects/deals/batch/read",
        "/crm/v4/associations/deals/contacts/batch/read",
        "/crm/v3/pipelines/deals",
    } <= {r.path for r in sent}
    assert [r for r in sent if r.open_transactions] == []
    assert Deal.objects.get(hubspot_id="502").amount == 1200
    assert OwnerChange.objects.get(contact__hubspot_id="101").changed_at == changed_at


def _client():
    from hubspot_sync.client import HubSpotClient

    return HubSpotClient(sleep=lambda s: None)


def test_an_association_change_re_reads_the_record_on_the_far_side_of_the_contact(fake_hubspot, client):
    # given deal 501 synced on Ali, then moved to Bea in HubSpot (its modified date untouched)
    portal(fake_hubspot, T0)
    services.sync_all(full=True, client=_client())
    fake_hubspot.store.associations[("deals", "contacts")]["501"] = ["102"]
    event = _event(
        9,
        object_id=102,
        kind="contact.associationChange",
        associationType="CONTACT_TO_DEAL",
        fromObjectId=102,
        toObjectId=501,
        associationRemoved=False,
    )
    _post(client, [event])

    # when
    runs = services.webhook_events_process(client=_client())

    # then
    assert [(r.object_type, r.status) for r in runs] == [("deals", "succeeded")]
    bea = Contact.objects.get(hubspot_id="102")
    assert Deal.objects.get(hubspot_id="501").contact == bea
    assert bea.open_deal_amount is not None
    assert Contact.objects.get(hubspot_id="101").open_deal_amount is None


def test_a_backlog_of_one_type_whose_sync_runs_does_not_hold_up_the_others(fake_hubspot, client):
    # given a synced portal, a contacts sync running elsewhere, and more contact events waiting
    # than one pass takes, older than a deal's
    portal(fake_hubspot, T0)
    services.sync_all(full=True, client=_client())
    SyncCursor.objects.filter(object_type="contacts").update(
        locked_until=timezone.now() + timedelta(minutes=5), locked_by="another-worker"
    )
    fake_hubspot.put("deals", "502", modified=T0 + timedelta(hours=1), amount="1200")
    _post(client, [_event(i, object_id=101) for i in range(1, 4)])
    _post(client, [_event(9, object_id=502, kind="deal.propertyChange")])

    # when a pass takes two events of each type
    runs = services.webhook_events_process(client=_client(), limit=2)

    # then the deal is applied; the contact events wait for their sync to finish
    assert [(r.object_type, r.status) for r in runs] == [("deals", "succeeded")]
    assert Deal.objects.get(hubspot_id="502").amount == Decimal("1200")
    assert WebhookEvent.objects.filter(processed_at__isnull=True, object_type="contacts").count() == 3
