"""The JSON API answers as /api/schema/ says: schemathesis generates requests from the schema
(valid and invalid ones) and checks every answer, in process through Django's WSGI handler."""

import copy
from datetime import timedelta

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from crm.api import api_token_create
from crm.openapi import SCHEMA
from leads.models import Zone
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

MAX_EXAMPLES = 50  # per generation mode: a few seconds, enough to reach every parameter's edges
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    positive_data_acceptance,
    negative_data_rejection,
]


def _run(*, token: str, mode: GenerationMode) -> tuple[int, list[str]]:
    """Generate up to MAX_EXAMPLES requests in `mode`; the number sent and every failed check."""
    schema = schemathesis.openapi.from_dict(copy.deepcopy(SCHEMA))
    operation = schema["/api/leads/needing-action"]["GET"]
    app, sent, failures = WSGIHandler(), [], []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,  # the same requests on every run: CI never fails by luck
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def send(case):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        response = case.call(app=app, base_url="http://testserver")
        sent.append(case)
        try:
            case.validate_response(response, checks=CHECKS)
        except (Failure, FailureGroup) as found:
            for failure in getattr(found, "exceptions", [found]):
                failures.append(
                    f"{case.query} -> {response.status_code}: {failure.title}: {failure.message[:200]}"
                )

    send()
    return len(sent), failures


@pytest.mark.parametrize("who", ["setter", "manager"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_needing_action_api_answers_as_its_schema_says(who, mode, request, other_setter):
    # given a user with a token, and leads of two owners in every zone, some never called
    user = request.getfixturevalue(who)
    owner = getattr(user, "owner", None) or other_setter.owner
    for zone in [Zone.RED, Zone.YELLOW, Zone.GREEN, ""]:
        ContactFactory(owner=owner, health_zone=zone, last_call_at=timezone.now() - timedelta(days=9))
        ContactFactory(owner=other_setter.owner, health_zone=zone, predictive_risk=70)
    _, token = api_token_create(user=user, name="schemathesis")
    # A real WSGI handler closes old connections around each request (Django's test client does
    # not): that would close the test's transaction.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
        request.addfinalizer(lambda signal=signal: signal.connect(close_old_connections))

    # when
    sent, failures = _run(token=token, mode=mode)

    # then
    kinds = sorted({failure.split(" -> ")[1].split(":")[0:2][1].strip() for failure in failures})
    print(f"\nschemathesis {who} {mode}: {sent} requests, {len(failures)} failures {kinds}")
    assert sent > 10
    assert failures == []
