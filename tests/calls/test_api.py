"""GET /api/leads/needing-action: parameters, auth, scoping, drafts, schema."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from calls.forms import QUEUE_API_PARAMS
from crm.api import api_token_create
from crm.models import ApiToken
from crm.openapi import QUEUE_LEAD, SCHEMA
from leads.models import Zone
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db
URL = reverse("api-leads-needing-action")


def test_returns_the_queue_with_count_duration_and_the_spec_fields(setter_client, setter):
    ContactFactory(
        owner=setter.owner,
        first_name="Mina",
        health_zone=Zone.RED,
        last_call_at=timezone.now() - timedelta(days=15),
        call_count=1,
        predictive_risk=80,
    )
    response = setter_client.get(URL, {"generate_ai_messages": "false"})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1 and isinstance(body["duration_ms"], int)
    lead = body["leads"][0]
    assert set(QUEUE_LEAD["required"]) <= set(lead)
    assert set(lead) <= set(QUEUE_LEAD["properties"])
    assert lead["priority"] == 10 and lead["zone"] == "RED" and lead["risk_score"] == 80
    assert lead["reason"] == "URGENT: RED zone · 15 days no contact · risk 80"
    assert lead["factors"] == ["RED zone", "15 days no contact", "risk 80"]
    assert lead["recommended_channel"] == "PHONE" and lead["draft_message"]
    assert lead["owner"]["id"] == setter.owner.pk and lead["owner_recently_changed"] is False


def test_without_an_ai_key_drafts_are_templates(setter_client, setter):
    ContactFactory(owner=setter.owner)
    lead = setter_client.get(URL).json()["leads"][0]
    assert lead["draft_source"] == "template"


def test_with_ai_the_drafts_come_from_the_model(setter_client, setter, fake_anthropic):
    ContactFactory(owner=setter.owner, first_name="Mina")
    lead = setter_client.get(URL, {"generate_ai_messages": "true"}).json()["leads"][0]
    assert lead["draft_source"] == "ai"
    assert len(fake_anthropic.requests) == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"days_threshold": "x"}, "days_threshold"),
        ({"days_threshold": "-1"}, "days_threshold"),
        ({"limit": "0"}, "limit"),
        ({"limit": "999"}, "limit"),
        ({"include_all_zones": "maybe"}, "include_all_zones"),
        ({"generate_ai_messages": "yes please"}, "generate_ai_messages"),
        ({"owner": "nobody"}, "owner"),
        ({"owner": ""}, "owner"),
        # present but empty is a value, and not one the schema's enum or type allows
        ({"generate_ai_messages": ""}, "generate_ai_messages"),
        ({"include_all_zones": ""}, "include_all_zones"),
        ({"days_threshold": ""}, "days_threshold"),
        ({"limit": "5.0"}, "limit"),
        ({"limit": "5\n"}, "limit"),
        ({"owner": "all\n"}, "owner"),
    ],
)
def test_bad_parameters_get_400_with_the_field(setter_client, params, field):
    response = setter_client.get(URL, params)
    assert response.status_code == 400
    assert response.json()["error"] == "Invalid parameters." and field in response.json()["fields"]


def test_valid_parameters_filter(manager_client, setter, other_setter):
    ContactFactory(owner=setter.owner, health_zone=Zone.GREEN, lifecycle_stage="customer")
    ContactFactory(owner=other_setter.owner)
    assert manager_client.get(URL, {"generate_ai_messages": "0"}).json()["count"] == 1
    assert (
        manager_client.get(URL, {"include_all_zones": "true", "generate_ai_messages": "0"}).json()["count"]
        == 2
    )
    mine = {"owner": setter.owner.pk, "include_all_zones": "1", "generate_ai_messages": "0", "limit": "1"}
    assert manager_client.get(URL, mine).json()["count"] == 1


def test_setter_cannot_read_another_owners_queue(setter_client, other_setter):
    ContactFactory(owner=other_setter.owner)
    # a well-formed owner id the setter may not see is not found (the schema allows any id)
    assert setter_client.get(URL, {"owner": other_setter.owner.pk}).status_code == 404
    assert setter_client.get(URL).json()["count"] == 0


def test_owner_all_is_everything_the_user_may_see(setter_client, manager_client, setter, other_setter):
    ContactFactory(owner=setter.owner)
    ContactFactory(owner=other_setter.owner)
    params = {"owner": "all", "generate_ai_messages": "0"}
    assert setter_client.get(URL, params).json()["count"] == 1
    assert manager_client.get(URL, params).json()["count"] == 2
    assert manager_client.get(URL, {"owner": "999999"}).status_code == 404


def test_the_published_parameters_are_the_ones_the_view_checks():
    published = SCHEMA["paths"]["/api/leads/needing-action"]["get"]["parameters"]
    assert published == [param.openapi() for param in QUEUE_API_PARAMS]
    owner = next(p for p in published if p["name"] == "owner")
    assert owner["schema"]["pattern"] == "^(all|[1-9][0-9]{0,17})$"


def test_anonymous_gets_401_json_not_a_redirect(client):
    response = client.get(URL)
    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["error"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_bearer_token_authenticates_as_its_user(setter):
    ContactFactory(owner=setter.owner)
    _, token = api_token_create(user=setter, name="dialer")
    client = Client()
    response = client.get(
        URL, {"generate_ai_messages": "false"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200 and response.json()["count"] == 1
    assert ApiToken.objects.get().last_used_at is not None
    assert token not in ApiToken.objects.values_list("key_hash", flat=True)


def test_revoked_or_wrong_token_is_401(setter):
    row, token = api_token_create(user=setter, name="dialer")
    client = Client()
    assert client.get(URL, headers={"Authorization": "Bearer crm_wrong"}).status_code == 401
    row.is_revoked = True
    row.save()
    assert client.get(URL, headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_wrong_method_is_405(setter_client):
    assert setter_client.post(URL).status_code == 405


def test_query_count_does_not_grow_with_leads(setter_client, setter, django_assert_max_num_queries):
    ContactFactory.create_batch(30, owner=setter.owner, health_zone=Zone.RED)
    with django_assert_max_num_queries(10):
        body = setter_client.get(URL, {"generate_ai_messages": "false"}).json()
    assert body["count"] == 30


def test_openapi_schema_is_served_and_documents_the_endpoint(setter_client):
    response = setter_client.get(reverse("api-schema"))
    assert response.status_code == 200
    body = response.json()
    assert body == SCHEMA and body["openapi"].startswith("3.")
    params = {p["name"] for p in body["paths"]["/api/leads/needing-action"]["get"]["parameters"]}
    assert params == {"owner", "days_threshold", "include_all_zones", "limit", "generate_ai_messages"}
