"""The Celery wiring, end to end: a real worker consuming from Redis runs the task."""

import os
import time
import uuid

import pytest
from celery.contrib.testing.worker import start_worker

from calls.models import CallStatus
from calls.tasks import rebuild_contact_facts_task
from crm.celery import app
from leads.models import Contact
from tests.factories import CallRecordFactory, ContactFactory
from tests.support import require_redis

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_worker(settings):
    require_redis(REDIS_URL)
    # A queue of our own, so a stale message from another run can never be consumed here.
    queue = f"test-{uuid.uuid4().hex[:8]}"
    app.conf.update(broker_url=REDIS_URL, task_default_queue=queue, task_always_eager=False)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        yield
    app.conf.update(broker_url=settings.CELERY_BROKER_URL, task_default_queue="celery")


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_rebuild_contact_facts_task_runs_on_a_real_worker(redis_worker):
    # given a contact whose facts are stale (calls written around the service)
    contact = ContactFactory()
    CallRecordFactory.create_batch(3, contact=contact, status=CallStatus.ANSWERED)
    assert Contact.objects.get(pk=contact.pk).call_count == 0
    # when the task goes through Redis to the worker
    rebuild_contact_facts_task.delay([contact.pk])
    # then
    assert wait_for(lambda: Contact.objects.get(pk=contact.pk).call_count == 3)
    # and running it again leaves the same state
    rebuild_contact_facts_task.delay([contact.pk])
    time.sleep(0.5)
    assert Contact.objects.get(pk=contact.pk).answered_call_count == 3
