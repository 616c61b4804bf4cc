"""Root fixtures: a setter with an owner, another setter, a manager, logged-in clients."""

import os
import uuid

import pytest
from celery.contrib.testing.worker import start_worker
from django.test import Client

from crm.roles import MANAGER, OPS, SETTER
from tests.factories import OwnerFactory, UserFactory
from tests.support import require_redis

HTMX_HEADERS = {"HTTP_HX_REQUEST": "true"}
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="session")
def _celery_worker_session():
    """One real Celery worker (solo pool, in a thread) consuming from Redis for the whole session.

    Its queue name is unique to the run, so a stale message from another run is never consumed.
    Celery caches its queue configuration on first use, hence one worker, not one per test.
    """
    from crm.celery import app

    require_redis(TEST_REDIS_URL)
    app.conf.update(
        broker_url=TEST_REDIS_URL, task_default_queue=f"test-{uuid.uuid4().hex[:8]}", task_always_eager=False
    )
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker:
        yield worker


@pytest.fixture
def celery_worker(_celery_worker_session, transactional_db):
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
