"""Large reassignments as jobs: a row with state and progress, batches that commit with the job's
progress, a lease renewed by heartbeat, retries that continue where the dead worker stopped."""

from datetime import timedelta

import pytest
from django.urls import reverse

from crm import timeutils
from leads import reassignment, services
from leads.models import Contact, JobStatus, OwnerChange, OwnerChangeSource, ReassignmentJob
from leads.reassignment import (
    MAX_RETRIES,
    Slice,
    job_progress,
    reassignment_job_start,
    reassignment_job_work,
    reassignment_jobs_resume_stalled,
)
from leads.tasks import reassignment_job_task
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_batches(settings):
    settings.REASSIGN_JOB_BATCH = 4
    settings.JOB_LEASE_SECONDS = 60


def _job(leads, to, manager=None) -> ReassignmentJob:
    return reassignment_job_start(contact_ids=[c.pk for c in leads], to_owner=to.owner, changed_by=manager)


def _crash_in_batch(monkeypatch, number: int) -> None:
    """The worker dies inside batch `number` (1-based), after moving its contacts but before the
    batch commits: as SIGKILL would, nothing of that batch is kept, and the lease stays held."""
    calls = {"n": 0}
    real = reassignment.contacts_reassign

    def dying(**kwargs):
        calls["n"] += 1
        moved = real(**kwargs)
        if calls["n"] == number:
            raise KeyboardInterrupt("worker killed")  # not an Exception: nothing catches it
        return moved

    monkeypatch.setattr(reassignment, "contacts_reassign", dying)


def _lease_runs_out(job: ReassignmentJob) -> None:
    ReassignmentJob.objects.filter(pk=job.pk).update(locked_until=timeutils.now() - timedelta(seconds=1))


def test_a_job_is_recorded_and_queued_once_after_commit(
    small_batches, manager, setter, other_setter, django_capture_on_commit_callbacks
):
    leads = ContactFactory.create_batch(10, owner=setter.owner)
    with django_capture_on_commit_callbacks() as queued:
        job = _job(leads, other_setter, manager)
    assert len(queued) == 1
    assert (job.status, job.total, job.done, job.batch_size) == (JobStatus.QUEUED, 10, 0, 4)
    assert job_progress(job=job).headline == "0 of 10 moved"


def test_a_job_moves_every_contact_in_batches_and_records_each_move_once(
    small_batches, manager, setter, other_setter
):
    leads = ContactFactory.create_batch(10, owner=setter.owner)
    job = _job(leads, other_setter, manager)

    assert reassignment_job_work(job_id=job.pk) is Slice.FINISHED

    job.refresh_from_db()
    assert (job.status, job.done, job.moved, job.retries, job.locked_by) == (
        JobStatus.SUCCEEDED,
        10,
        10,
        0,
        "",
    )
    assert Contact.objects.filter(owner=other_setter.owner).count() == 10
    changes = OwnerChange.objects.filter(contact__in=leads)
    assert changes.count() == 10
    assert {(c.from_owner_id, c.source, c.changed_by_id) for c in changes} == {
        (setter.owner.pk, OwnerChangeSource.MANUAL, manager.pk)
    }
    assert job_progress(job=job).headline == "All 10 moved"


def test_running_a_job_twice_leaves_the_same_state(small_batches, setter, other_setter):
    leads = ContactFactory.create_batch(6, owner=setter.owner)
    job = _job(leads, other_setter)
    reassignment_job_task.apply(kwargs={"job_id": job.pk})
    reassignment_job_task.apply(kwargs={"job_id": job.pk})  # a redelivery
    job.refresh_from_db()
    assert (job.status, job.done, job.moved) == (JobStatus.SUCCEEDED, 6, 6)
    assert OwnerChange.objects.filter(contact__in=leads).count() == 6


def test_a_worker_killed_mid_batch_keeps_the_batches_done_and_the_retry_continues_after_them(
    small_batches, monkeypatch, setter, other_setter
):
    # given 10 leads in batches of 4, and a worker that dies inside the second batch
    leads = ContactFactory.create_batch(10, owner=setter.owner)
    job = _job(leads, other_setter)
    _crash_in_batch(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        reassignment_job_work(job_id=job.pk)

    # then the first batch is kept with the job's progress, the second rolled back whole
    job.refresh_from_db()
    assert (job.status, job.done, job.moved) == (JobStatus.RUNNING, 4, 4)
    assert Contact.objects.filter(owner=other_setter.owner).count() == 4
    assert OwnerChange.objects.count() == 4
    # and the dead worker still holds the lease: a redelivery within it waits
    monkeypatch.undo()
    assert reassignment_job_work(job_id=job.pk) is Slice.BUSY

    # when its lease runs out, the next worker takes over from the last committed batch
    _lease_runs_out(job)
    job.refresh_from_db()
    assert job_progress(job=job).detail == "the worker stopped; the batch it was moving will be retried"
    assert reassignment_job_work(job_id=job.pk) is Slice.FINISHED

    # then every contact moved exactly once
    job.refresh_from_db()
    assert (job.status, job.done, job.moved, job.retries) == (JobStatus.SUCCEEDED, 10, 10, 1)
    assert Contact.objects.filter(owner=other_setter.owner).count() == 10
    changes = OwnerChange.objects.filter(contact__in=leads)
    assert changes.count() == 10
    assert changes.values("contact").distinct().count() == 10


def test_the_page_says_a_batch_is_being_retried_until_the_retried_batch_commits(setter, other_setter):
    job = _job(ContactFactory.create_batch(2, owner=setter.owner), other_setter)
    ReassignmentJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, total=5390, done=3519, moved=3519, retries=1, retried_from=3519,
        locked_by="w2", locked_until=timeutils.now() + timedelta(seconds=30),
    )  # fmt: skip
    job.refresh_from_db()
    progress = job_progress(job=job)
    assert (progress.headline, progress.detail) == ("3,519 of 5,390 moved", "a batch is being retried")
    ReassignmentJob.objects.filter(pk=job.pk).update(done=4019, moved=4019)
    job.refresh_from_db()
    assert job_progress(job=job).detail == "resumed after a worker stopped (retry 1)"


def test_a_batch_whose_lease_was_taken_over_is_not_kept(small_batches, monkeypatch, setter, other_setter):
    leads = ContactFactory.create_batch(8, owner=setter.owner)
    job = _job(leads, other_setter)
    real = reassignment.contacts_reassign

    def slow_then_taken_over(**kwargs):
        moved = real(**kwargs)
        # this worker stalled past its lease and another took the job over meanwhile
        ReassignmentJob.objects.filter(pk=job.pk).update(locked_by="another-worker")
        return moved

    monkeypatch.setattr(reassignment, "contacts_reassign", slow_then_taken_over)
    assert reassignment_job_work(job_id=job.pk) is Slice.FINISHED
    job.refresh_from_db()
    assert job.done == 0 and not OwnerChange.objects.exists()  # left to the new holder


def test_a_large_job_runs_in_slices_each_making_progress(small_batches, setter, other_setter):
    leads = ContactFactory.create_batch(10, owner=setter.owner)
    job = _job(leads, other_setter)
    assert reassignment_job_work(job_id=job.pk, budget_seconds=0) is Slice.MORE
    job.refresh_from_db()
    assert (job.done, job.locked_by, job.retries) == (4, "", 0)  # released between slices: no retry
    assert reassignment_job_work(job_id=job.pk, budget_seconds=0) is Slice.MORE
    assert reassignment_job_work(job_id=job.pk, budget_seconds=0) is Slice.FINISHED
    job.refresh_from_db()
    assert (job.status, job.done, job.retries) == (JobStatus.SUCCEEDED, 10, 0)


def test_a_job_that_keeps_killing_its_worker_fails_instead_of_retrying_forever(setter, other_setter):
    job = _job(ContactFactory.create_batch(2, owner=setter.owner), other_setter)
    ReassignmentJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, retries=MAX_RETRIES, locked_by="dead",
        locked_until=timeutils.now() - timedelta(seconds=1),
    )  # fmt: skip
    assert reassignment_job_work(job_id=job.pk) is Slice.FINISHED
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "died" in job.error
    assert job_progress(job=job).detail.startswith("failed: Stopped")


def test_the_sweeper_queues_jobs_whose_worker_died_and_leaves_live_ones(
    small_batches, monkeypatch, setter, other_setter
):
    dead = _job(ContactFactory.create_batch(2, owner=setter.owner), other_setter)
    live = _job(ContactFactory.create_batch(2, owner=setter.owner), other_setter)
    now = timeutils.now()
    ReassignmentJob.objects.filter(pk=dead.pk).update(
        status=JobStatus.RUNNING, locked_by="w1", locked_until=now - timedelta(seconds=1)
    )
    ReassignmentJob.objects.filter(pk=live.pk).update(
        status=JobStatus.RUNNING, locked_by="w2", locked_until=now + timedelta(seconds=30)
    )
    queued = []
    monkeypatch.setattr(reassignment, "_enqueue", queued.append)
    assert reassignment_jobs_resume_stalled(at=now) == [dead.pk]
    assert queued == [dead.pk]


def test_a_large_selection_from_the_follow_up_page_shows_its_job_polling(
    monkeypatch, manager_client, setter, other_setter, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services, "REASSIGN_IN_REQUEST_MAX", 2)
    leads = ContactFactory.create_batch(3, owner=setter.owner)
    with django_capture_on_commit_callbacks() as queued:
        response = manager_client.post(
            reverse("follow-up-reassign"),
            {"to_owner": other_setter.owner.pk, "contact": [c.pk for c in leads], "filters": ""},
            headers={"HX-Request": "true"},
        )
    assert len(queued) == 1
    job = ReassignmentJob.objects.get()
    html = response.content.decode()
    assert f'hx-get="{reverse("reassignment-job", args=[job.pk])}"' in html
    assert 'hx-trigger="every 2s"' in html and "0 of 3 moved" in html
    # and the page itself shows it after a reload
    assert "0 of 3 moved" in manager_client.get(reverse("follow-up")).content.decode()


def test_the_job_fragment_stops_polling_and_refreshes_the_table_when_done(
    manager, manager_client, setter, other_setter
):
    job = _job(ContactFactory.create_batch(3, owner=setter.owner), other_setter, manager)
    url = reverse("reassignment-job", args=[job.pk])
    running = manager_client.get(url, headers={"HX-Request": "true"})
    assert "every 2s" in running.content.decode() and "HX-Trigger" not in running.headers
    reassignment_job_work(job_id=job.pk)
    done = manager_client.get(url, headers={"HX-Request": "true"})
    assert "every 2s" not in done.content.decode() and "All 3 moved" in done.content.decode()
    assert done.headers["HX-Trigger"] == "follow-up-changed"
    assert "<html" not in done.content.decode()  # the fragment only
    assert "<html" in manager_client.get(url).content.decode()  # also a page


def test_the_job_fragment_is_the_starting_managers_only(
    manager, client, setter, setter_client, other_setter, django_user_model
):
    from crm.roles import MANAGER
    from tests.factories import UserFactory

    job = _job(ContactFactory.create_batch(1, owner=setter.owner), other_setter, manager)
    url = reverse("reassignment-job", args=[job.pk])
    other_manager = UserFactory(username="mona", groups=[MANAGER])
    client.force_login(other_manager)
    assert client.get(url).status_code == 404
    assert setter_client.get(url).status_code == 403
    assert setter_client.post(url).status_code in (403, 405)
