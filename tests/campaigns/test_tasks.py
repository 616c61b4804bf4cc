"""The replenishment task through a real Celery worker on Redis."""

import pytest

from campaigns.models import ReplenishmentConfig, ReplenishmentRun, RunStatus, RunTrigger
from campaigns.services import source_upload
from campaigns.tasks import replenish_task
from leads.models import Contact
from tests.campaigns.conftest import as_json, lead
from tests.factories import OwnerFactory
from tests.support import wait_for


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_replenish_task_runs_one_replenishment_end_to_end_on_a_real_worker(celery_worker):
    # given committed data: the configuration, a setter, a file of leads
    ReplenishmentConfig.objects.create(pk=1)
    owner = OwnerFactory(daily_call_capacity=50)
    source_upload(name="hot", file_name="hot.json", data=as_json([lead(i, tier="A+") for i in range(6)]))
    # when the task goes through Redis to the worker
    replenish_task.delay()
    # then the run is recorded and the leads are created and assigned
    assert wait_for(lambda: ReplenishmentRun.objects.filter(status=RunStatus.UPLOADED).exists())
    run = ReplenishmentRun.objects.get()
    assert (run.trigger, run.created, run.assigned) == (RunTrigger.SCHEDULE, 6, {str(owner): 6})
    assert Contact.objects.filter(owner=owner).count() == 6
    # and running it again uploads nothing twice (the cooldown blocks, the rows are used)
    replenish_task.delay()
    # the run's row is written "running" first and finished after: wait for it to finish
    assert wait_for(lambda: ReplenishmentRun.objects.exclude(status=RunStatus.RUNNING).count() == 2)
    assert ReplenishmentRun.objects.latest("started_at").status == RunStatus.BLOCKED
    assert Contact.objects.count() == 6
