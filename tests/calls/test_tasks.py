"""The Celery wiring, end to end: a real worker consuming from Redis runs the task."""

import time

import pytest

from calls.models import CallStatus
from calls.tasks import rebuild_contact_facts_task
from leads.models import Contact
from tests.factories import CallRecordFactory, ContactFactory
from tests.support import wait_for


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_rebuild_contact_facts_task_runs_on_a_real_worker(celery_worker):
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


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_detect_pattern_breaks_task_runs_on_a_real_worker(celery_worker):
    from datetime import timedelta

    from django.utils import timezone

    from calls.tasks import detect_pattern_breaks_task
    from leads.models import PatternStatus

    contact = ContactFactory()
    for day in (9, 12, 16, 19, 23, 26, 30, 33):
        CallRecordFactory(contact=contact, started_at=timezone.now() - timedelta(days=day))
    detect_pattern_breaks_task.delay()
    assert wait_for(lambda: Contact.objects.get(pk=contact.pk).pattern_status == PatternStatus.PATTERN_BREAK)
