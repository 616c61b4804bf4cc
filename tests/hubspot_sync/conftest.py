"""Fixtures for the HubSpot sync: a loopback fake HubSpot with the app pointed at it."""

from datetime import UTC, datetime

import pytest

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
