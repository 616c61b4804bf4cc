"""Fixtures for the HubSpot sync: a loopback fake HubSpot with the app pointed at it."""

from datetime import UTC, datetime
from typing import NamedTuple
from urllib.parse import urlsplit

import pytest
from django.db import connection

from hubspot_sync.client import HubSpotClient
from tests.fakes.hubspot_server import FakeHubSpot

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def fake_hubspot(settings):
    """The fake with its rate limits off (tests of the limiter switch them on with a fake clock)."""
    with FakeHubSpot(token="test-token", ten_secondly_limit=None, search_per_second=None) as fake:
        settings.HUBSPOT_ENABLED = True
        settings.HUBSPOT_ACCESS_TOKEN = "test-token"
        settings.HUBSPOT_API_BASE = fake.base_url
        settings.HUBSPOT_OBJECTS_PATH = "/crm/v3/objects"
        settings.HUBSPOT_REQUESTS_PER_SECOND = 0
        settings.HUBSPOT_SEARCH_REQUESTS_PER_SECOND = 0
        settings.HUBSPOT_MAX_ATTEMPTS = 4
        settings.HUBSPOT_TIMEOUT_SECONDS = 5
        yield fake


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def hubspot(fake_hubspot, sleeps):
    """The real client against the fake; its sleeps are recorded, not slept."""
    return HubSpotClient(sleep=sleeps.append, jitter=lambda: 0.0)


class SentRequest(NamedTuple):
    method: str
    path: str
    open_transactions: int  # atomic blocks open beyond those the test itself runs in


def sent_requests(client: HubSpotClient) -> list[SentRequest]:
    """Every request the real client sends from now on, with how many transactions were open when
    it was sent. A response hook on its session runs on the sync's own thread with nothing of ours
    between the request and it, so it sees the transactions the request was sent in. pytest-django
    runs each test in atomic blocks of its own: those open now are not counted."""
    before = len(connection.atomic_blocks)
    sent: list[SentRequest] = []

    def record(response, *args, **kwargs):
        request = response.request
        sent.append(
            SentRequest(request.method, urlsplit(request.url).path, len(connection.atomic_blocks) - before)
        )

    client.session.hooks["response"].append(record)
    return sent
