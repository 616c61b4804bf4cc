"""Root fixtures: a setter with an owner, another setter, a manager, logged-in clients."""

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.cache import cache
from django.test import Client

from crm.roles import MANAGER, OPS, SETTER
from tests.factories import OwnerFactory, UserFactory
from tests.fakes.anthropic_server import FakeAnthropic
from tests.support import require_redis

HTMX_HEADERS = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(scope="session")
def _celery_worker_session(django_db_setup):
    """One real Celery worker (solo pool, in a thread) consuming from Redis for the whole session,
    on the run's own queue (crm.test_settings). It starts after the test database exists, so
    its thread's connection can only ever point at the test database."""
    from django.conf import settings

    from crm.celery import app

    require_redis(settings.CELERY_BROKER_URL)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker:
        yield worker


@pytest.fixture
def migrated_rows(transactional_db):
    """Rows that migrations create (role groups and their permissions, priority factors, beat
    schedules). A transactional test's flush deletes them, and serialized_rollback cannot restore
    them once Playwright's event loop runs; so tests that commit data re-create them with the same
    idempotent functions the migrations call."""
    from django.apps import apps

    from crm.groups import groups_sync
    from crm.schedules import schedules_ensure
    from scoring.factors import factors_ensure

    groups_sync(apps)
    factors_ensure(apps)
    schedules_ensure(apps)


@pytest.fixture
def celery_worker(_celery_worker_session, migrated_rows):
    """A real worker on Redis; the test's data is committed so the worker's connection sees it."""
    return _celery_worker_session


@pytest.fixture
def setter(db):
    """A Setter login linked to its Owner (user.owner)."""
    user = UserFactory(username="sam", first_name="Sam", groups=[SETTER])
    OwnerFactory(user=user, first_name="Sam", last_name="Setter")
    return user


@pytest.fixture
def other_setter(db):
    user = UserFactory(username="olga", first_name="Olga", groups=[SETTER])
    OwnerFactory(user=user, first_name="Olga", last_name="Other")
    return user


@pytest.fixture
def manager(db):
    return UserFactory(username="maya", first_name="Maya", is_staff=True, groups=[MANAGER])


@pytest.fixture
def ops_user(db):
    return UserFactory(username="otto", is_staff=True, groups=[OPS])


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def setter_client(setter) -> Client:
    return _logged_in(setter)


@pytest.fixture
def other_setter_client(other_setter) -> Client:
    return _logged_in(other_setter)


@pytest.fixture
def manager_client(manager) -> Client:
    return _logged_in(manager)


@pytest.fixture
def admin_client_ops(superuser) -> Client:
    return _logged_in(superuser)


@pytest.fixture
def htmx_headers() -> dict[str, str]:
    return dict(HTMX_HEADERS)


@pytest.fixture(autouse=True)
def _clear_cache():
    """Cached drafts and the like never leak from one test into another."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def fake_anthropic(settings):
    """A loopback fake of the Anthropic Messages API, with AI switched on and pointed at it."""
    with FakeAnthropic(api_key="test-key") as fake:
        settings.ANTHROPIC_ENABLED = True
        settings.ANTHROPIC_API_KEY = "test-key"
        settings.ANTHROPIC_BASE_URL = fake.base_url
        settings.ANTHROPIC_MODEL = "claude-haiku-4-5"
        yield fake
