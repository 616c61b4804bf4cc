"""`kill -9` of a real Celery worker in the middle of a large reassignment: a second worker gets
the message once the (short) visibility timeout passes, takes the job over once the dead worker's
lease has run out, and finishes it from the last committed batch. Every lead moves exactly once,
within a bounded time, and the job row says the truth all along."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings

from leads import reassignment
from leads.models import Contact, JobStatus, OwnerChange, ReassignmentJob
from leads.reassignment import job_progress, reassignment_job_start
from leads.tasks import reassignment_job_task
from tests.factories import ContactFactory
from tests.support import database_url, require_redis, wait_for

ROOT = Path(__file__).resolve().parents[2]
LEADS = 3_000
BATCH = 100  # 30 batches
BATCH_PAUSE = 0.1  # seconds each batch takes longer, inside its transaction: a kill lands mid-batch
LEASE_SECONDS = 3
VISIBILITY_SECONDS = 10
FINISH_WITHIN_SECONDS = 90

# The worker process: the real `celery worker` of this app, with two test-only changes made before
# it starts. Its broker bookkeeping of unacknowledged messages goes under keys of its own, so its
# 10 s visibility timeout can only ever restore this test's message (never another test run's on
# the shared Redis); and each batch is slowed so that a kill lands inside one.
WORKER = """
import sys, time
import django
django.setup()
from crm.celery import app
from leads import reassignment

queue, prefix, pause = sys.argv[1], sys.argv[2], float(sys.argv[3])
app.conf.broker_transport_options = {
    **app.conf.broker_transport_options,
    "unacked_key": prefix + "unacked",
    "unacked_index_key": prefix + "unacked_index",
    "unacked_mutex_key": prefix + "unacked_mutex",
}
moving = reassignment.contacts_reassign

def slowly(**kwargs):
    moved = moving(**kwargs)
    time.sleep(pause)
    return moved

reassignment.contacts_reassign = slowly
app.worker_main(["worker", "--pool", "solo", "--concurrency", "1", "-Q", queue, "--loglevel", "WARNING",
                 "--without-mingle", "--without-gossip", "--without-heartbeat"])
"""


def _worker(queue: str, prefix: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "DJANGO_DEBUG": "true",
        "LOG_LEVEL": "WARNING",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "CELERY_VISIBILITY_TIMEOUT_SECONDS": str(VISIBILITY_SECONDS),
        "CELERY_RESTORE_INTERVAL_SECONDS": "1",
        "JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "REASSIGN_JOB_BATCH": str(BATCH),
    }
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, queue, prefix, str(BATCH_PAUSE)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _stop(process: subprocess.Popen) -> str:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    return process.communicate(timeout=10)[0]


class Truth:
    """Samples the job row against the database: `done` never runs ahead of the leads that
    moved, nor behind them (no half batch is ever visible), and the owner changes match."""

    def __init__(self, job: ReassignmentJob, ids: list[int], to_owner_id: int):
        self.job, self.ids, self.to_owner_id = job, ids, to_owner_id
        self.samples = 0
        self.details: set[str] = set()

    def check(self) -> ReassignmentJob:
        before = ReassignmentJob.objects.get(pk=self.job.pk)
        moved = Contact.objects.filter(pk__in=self.ids, owner_id=self.to_owner_id).count()
        after = ReassignmentJob.objects.get(pk=self.job.pk)
        # Read between two looks at the job: a batch may commit in between, never half of one.
        assert before.done <= moved <= after.done, (before.done, moved, after.done)
        assert moved % BATCH == 0 or moved == LEADS, moved
        self.samples += 1
        self.details.add(job_progress(job=after).detail)
        return after


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_reassignment_is_replaced_and_every_lead_moves_exactly_once(
    monkeypatch, manager, setter, other_setter
):
    require_redis(settings.CELERY_BROKER_URL)
    queue = f"test-kill-{uuid.uuid4().hex[:12]}"
    prefix = f"{queue}:"
    Contact.objects.bulk_create(ContactFactory.build_batch(LEADS, owner=setter.owner), batch_size=500)
    ids = list(Contact.objects.order_by("pk").values_list("pk", flat=True))
    # The job's message goes to this test's queue (and only there: no other worker may take it).
    monkeypatch.setattr(
        reassignment,
        "_enqueue",
        lambda job_id: reassignment_job_task.apply_async(kwargs={"job_id": job_id}, queue=queue),
    )
    monkeypatch.setattr(settings, "REASSIGN_JOB_BATCH", BATCH)
    monkeypatch.setattr(settings, "JOB_LEASE_SECONDS", LEASE_SECONDS)
    first = _worker(queue, prefix)
    second = None
    try:
        # given a manager's reassignment of 3,000 leads, worked by the first worker
        job = reassignment_job_start(contact_ids=ids, to_owner=other_setter.owner, changed_by=manager)
        truth = Truth(job, ids, other_setter.owner.pk)

        # when the worker is killed outright once a few batches have committed
        assert wait_for(lambda: first.poll() is not None or truth.check().done >= 3 * BATCH, timeout=60)
        assert first.poll() is None, _stop(first)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        killed_at = time.monotonic()

        # then the job row shows what is kept: whole batches, each move recorded once
        dead = truth.check()
        assert dead.status == JobStatus.RUNNING and 0 < dead.done < LEADS
        assert OwnerChange.objects.filter(contact_id__in=ids).count() == dead.done
        assert dead.locked_by  # the dead worker's lease, left to run out
        assert wait_for(lambda: "worker stopped" in job_progress(job=truth.check()).detail, timeout=10)

        # when a new worker starts
        second = _worker(queue, prefix)

        # then it takes the job over and finishes it, within a bounded time
        finished = wait_for(lambda: truth.check().status != JobStatus.RUNNING, timeout=FINISH_WITHIN_SECONDS)
        took = time.monotonic() - killed_at
        assert finished, _stop(second)
    finally:
        _stop(first)
        if second is not None:
            _stop(second)
        # This test's queue and bookkeeping keys, whatever state a failure left them in.
        broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        broker.delete(queue, *broker.scan_iter(f"{queue}*"))

    job.refresh_from_db()
    assert (job.status, job.done, job.moved, job.retries) == (JobStatus.SUCCEEDED, LEADS, LEADS, 1)
    assert Contact.objects.filter(pk__in=ids, owner=other_setter.owner).count() == LEADS
    changes = OwnerChange.objects.filter(contact_id__in=ids)
    assert changes.count() == LEADS  # every lead moved exactly once: no duplicate history
    assert changes.values("contact_id").distinct().count() == LEADS
    assert job_progress(job=job).headline == "All 3,000 moved"
    print(
        f"\nkill test: {LEADS} leads, killed at {dead.done} moved, finished {took:.1f} s after the kill, "
        f"{changes.count() - LEADS} duplicates, {truth.samples} samples of the job row, "
        f"details seen: {sorted(truth.details)}"
    )
