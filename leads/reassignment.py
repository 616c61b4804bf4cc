"""Large reassignments as jobs on the workers: a row with state and progress the follow-up page
shows, worked in batches that each commit with the job's progress.

Why a job row and not one task per chunk: a worker killed mid-chunk rolled its chunk back, but
nobody could tell the manager how far it got, and the chunk waited for the broker to redeliver
it. Here:

- each batch moves its contacts (leads.services.contacts_reassign) and advances `done` in one
  transaction, conditional on the lease and on `done` not having moved: a batch is applied once,
  and a retried job starts after the last batch that committed;
- a worker holds the job by a lease renewed with every batch; a dead worker's lease runs out
  after JOB_LEASE_SECONDS, and whoever comes next (the broker's redelivery, or the sweeper beat
  runs every minute) takes the job over and counts a retry; a job that killed its worker
  MAX_RETRIES times fails instead of taking workers down forever;
- one task works JOB_SLICE_SECONDS and queues the next slice, so no task runs long enough to
  outlive the broker's visibility timeout, whatever the selection's size.
"""

import os
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce

from crm import timeutils
from leads.models import JobStatus, Owner, OwnerChangeSource, ReassignmentJob
from leads.services import contacts_reassign

# A job whose worker died this many times fails: something in it kills workers.
MAX_RETRIES = 5


class Slice(Enum):
    FINISHED = "finished"  # done, failed, or gone: nothing more to queue
    MORE = "more"  # the slice's time ran out: queue the next slice
    BUSY = "busy"  # another worker holds a live lease: try again once it could have run out


class LeaseLost(Exception):
    """This worker's lease ran out and another took the job over: the batch must not commit."""


def reassignment_job_start(
    *,
    contact_ids: Iterable[int],
    to_owner: Owner | None,
    changed_by: AbstractBaseUser | None = None,
    source: str = OwnerChangeSource.MANUAL,
    note: str = "",
) -> ReassignmentJob:
    """Record a reassignment job and queue it once the caller's transaction commits."""
    ids = list(dict.fromkeys(contact_ids))  # a contact ticked twice is one contact
    job = ReassignmentJob.objects.create(
        created_at=timeutils.now(),
        created_by=changed_by,
        to_owner=to_owner,
        source=source,
        note=note,
        contact_ids=ids,
        batch_size=settings.REASSIGN_JOB_BATCH,
        total=len(ids),
    )
    transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: int) -> None:
    from leads.tasks import reassignment_job_task  # the task module imports this one

    reassignment_job_task.delay(job_id=job_id)


def reassignment_job_work(*, job_id: int, budget_seconds: float | None = None) -> Slice:
    """Work the job batch by batch for up to `budget_seconds` (JOB_SLICE_SECONDS).

    Safe to run twice and at once: only the lease holder works, each batch commits only if the
    lease is still its own and `done` is where it read it, and contacts already with the new owner
    are skipped by contacts_reassign.
    """
    budget = settings.JOB_SLICE_SECONDS if budget_seconds is None else budget_seconds
    token = _claim(job_id)
    if token is None:
        open_job = ReassignmentJob.objects.filter(
            pk=job_id, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
        ).exists()
        return Slice.BUSY if open_job else Slice.FINISHED
    job = ReassignmentJob.objects.select_related("to_owner", "created_by").get(pk=job_id)
    if job.retries > MAX_RETRIES:
        _fail(job, token, f"Stopped: a worker died {job.retries} times while moving these leads.")
        return Slice.FINISHED
    deadline = time.monotonic() + budget
    try:
        while job.done < job.total:
            _batch(job, token)  # at least one per slice, so every slice makes progress
            if job.done < job.total and time.monotonic() >= deadline:
                _release(job, token)
                return Slice.MORE
    except LeaseLost:
        return Slice.FINISHED  # the worker that took it over finishes it
    ReassignmentJob.objects.filter(pk=job.pk, locked_by=token).update(
        status=JobStatus.SUCCEEDED,
        finished_at=timeutils.now(),
        locked_by="",
        locked_until=None,
        retried_from=None,
    )
    return Slice.FINISHED


def reassignment_jobs_resume_stalled(*, at: datetime | None = None) -> list[int]:
    """Queue again every unfinished job nobody is working on (its worker died, or its message
    was lost): those whose lease ran out, and queued ones that waited past a lease. Queuing a job
    that a redelivery also resumes is harmless: only one worker gets the lease."""
    at = at or timeutils.now()
    lease = timedelta(seconds=settings.JOB_LEASE_SECONDS)
    stalled = list(
        ReassignmentJob.objects.filter(status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
        .filter(Q(locked_until__lt=at) | Q(locked_until__isnull=True, created_at__lt=at - lease))
        .values_list("pk", flat=True)
    )
    for job_id in stalled:
        _enqueue(job_id)
    return stalled


def _claim(job_id: int) -> str | None:
    """Take the job's lease: free (never started, or between two slices) or run out (its worker
    died). One conditional UPDATE each, so of two workers claiming at once exactly one wins."""
    now = timeutils.now()
    # Who holds it: host, process and a unique part (a worker may run several jobs in turn).
    token = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:16]}"
    lease = {"locked_by": token, "locked_until": now + timedelta(seconds=settings.JOB_LEASE_SECONDS)}
    open_jobs = ReassignmentJob.objects.filter(pk=job_id, status__in=[JobStatus.QUEUED, JobStatus.RUNNING])
    taken = open_jobs.filter(locked_by="").update(
        **lease, heartbeat_at=now, status=JobStatus.RUNNING, started_at=Coalesce("started_at", now)
    )
    if taken:
        return token
    # Held by a worker that stopped renewing it: it died mid-batch, and its batch rolled back.
    taken = (
        open_jobs.exclude(locked_by="")
        .filter(locked_until__lt=now)
        .update(**lease, heartbeat_at=now, retries=F("retries") + 1, retried_from=F("done"))
    )
    return token if taken else None


def _batch(job: ReassignmentJob, token: str) -> None:
    ids = job.contact_ids[job.done : job.done + job.batch_size]
    with transaction.atomic():
        moved = contacts_reassign(
            contact_ids=ids,
            to_owner=job.to_owner,
            source=job.source,
            changed_by=job.created_by,
            note=job.note,
        )
        now = timeutils.now()
        # The heartbeat and the progress in one conditional UPDATE, in the batch's transaction:
        # if the lease is no longer ours (or `done` moved), the batch rolls back whole.
        advanced = ReassignmentJob.objects.filter(pk=job.pk, locked_by=token, done=job.done).update(
            done=F("done") + len(ids),
            moved=F("moved") + moved,
            heartbeat_at=now,
            locked_until=now + timedelta(seconds=settings.JOB_LEASE_SECONDS),
        )
        if not advanced:
            raise LeaseLost(f"reassignment job {job.pk} was taken over by another worker")
    job.done += len(ids)
    job.moved += moved


def _release(job: ReassignmentJob, token: str) -> None:
    # Between two slices: free for the next slice's task, and not a retry when it claims it.
    ReassignmentJob.objects.filter(pk=job.pk, locked_by=token).update(
        locked_by="", locked_until=None, retried_from=None
    )


def _fail(job: ReassignmentJob, token: str, error: str) -> None:
    ReassignmentJob.objects.filter(pk=job.pk, locked_by=token).update(
        status=JobStatus.FAILED, error=error, finished_at=timeutils.now(), locked_by="", locked_until=None
    )


# --- What the follow-up page shows ----------------------------------------------------------


@dataclass(frozen=True)
class JobProgress:
    job: ReassignmentJob
    is_open: bool  # still to finish: the fragment keeps polling
    headline: str  # "3,519 of 5,390 moved"
    detail: str  # "a batch is being retried", "the worker stopped; the rest will be retried"
    to_owner: str


def job_progress(*, job: ReassignmentJob, at: datetime | None = None) -> JobProgress:
    """What a reassignment job's fragment says: how far it got, and whether it is being retried."""
    at = at or timeutils.now()
    is_open = job.status in (JobStatus.QUEUED, JobStatus.RUNNING)
    to_owner = str(job.to_owner) if job.to_owner else "nobody"
    headline = f"{job.done:,} of {job.total:,} moved"
    detail = ""
    if job.status == JobStatus.QUEUED:
        detail = "waiting for a worker"
    elif job.status == JobStatus.RUNNING:
        if job.locked_by and job.locked_until and job.locked_until < at:
            detail = "the worker stopped; the batch it was moving will be retried"
        elif job.retried_from is not None and job.done == job.retried_from:
            detail = "a batch is being retried"
        elif job.retries:
            detail = f"resumed after a worker stopped (retry {job.retries})"
    elif job.status == JobStatus.SUCCEEDED:
        headline = f"All {job.total:,} moved"
        if job.moved != job.total:
            detail = f"{job.total - job.moved:,} already had that setter"
    else:
        detail = f"failed: {job.error}" if job.error else "failed"
    return JobProgress(job=job, is_open=is_open, headline=headline, detail=detail, to_owner=to_owner)


def recent_jobs(*, user: AbstractBaseUser, limit: int = 3, at: datetime | None = None) -> list[JobProgress]:
    """The manager's open reassignment jobs and those finished in the last hour, newest first."""
    at = at or timeutils.now()
    jobs = (
        ReassignmentJob.objects.filter(created_by=user)
        .filter(
            Q(status__in=[JobStatus.QUEUED, JobStatus.RUNNING]) | Q(finished_at__gte=at - timedelta(hours=1))
        )
        .select_related("to_owner")
        .defer("contact_ids")  # thousands of ids the page does not show
        .order_by("-created_at")[:limit]
    )
    return [job_progress(job=job, at=at) for job in jobs]


def job_for_user(*, user: AbstractBaseUser, job_id: int) -> JobProgress | None:
    """One job's progress, for the manager who started it (None for anyone else)."""
    job = (
        ReassignmentJob.objects.filter(pk=job_id, created_by=user)
        .select_related("to_owner")
        .defer("contact_ids")
        .first()
    )
    return job_progress(job=job) if job else None
