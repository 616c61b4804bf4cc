from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model

from leads import reassignment, services
from leads.models import Owner


@shared_task(
    name="leads.run_reassignment_job",
    bind=True,
    acks_late=True,
    ignore_result=True,
    soft_time_limit=300,
    time_limit=360,
    max_retries=None,
)
def reassignment_job_task(self, *, job_id: int) -> None:
    """Work one slice (JOB_SLICE_SECONDS) of a reassignment job, then queue the next.

    Safe to deliver twice: only the holder of the job's lease works it, and each batch commits
    with the job's progress. A delivery that finds the lease held by a live worker comes back
    once it could have run out, in case that worker is dead (a live one will have finished)."""
    outcome = reassignment.reassignment_job_work(job_id=job_id)
    if outcome is reassignment.Slice.MORE:
        reassignment_job_task.delay(job_id=job_id)
    elif outcome is reassignment.Slice.BUSY:
        raise self.retry(countdown=settings.JOB_LEASE_SECONDS + 1, max_retries=None)


@shared_task(name="leads.resume_stalled_reassignments", acks_late=True, ignore_result=True,
             soft_time_limit=50, time_limit=60, expires=50)  # fmt: skip
def resume_stalled_reassignments_task() -> None:
    """Every minute on beat: queue again the reassignment jobs whose worker died (or whose message
    was lost), so a killed worker delays a manager's reassignment by a lease, not by the broker's
    visibility timeout. Safe to run twice: a job is worked only by its lease holder."""
    reassignment.reassignment_jobs_resume_stalled()


@shared_task(name="leads.reassign_contacts", acks_late=True, ignore_result=True,
             soft_time_limit=300, time_limit=360)  # fmt: skip
def reassign_contacts_task(
    *, contact_ids: list[int], to_owner_id: int | None, source: str, changed_by_id: int | None, note: str
) -> None:
    """Move one chunk of a large reassignment (messages queued before reassignment jobs existed;
    new reassignments are ReassignmentJobs). Contacts already with the new owner are skipped, so
    a retry after a crash finishes the chunk without recording any move twice."""
    to_owner = Owner.objects.filter(pk=to_owner_id).first() if to_owner_id else None
    if to_owner_id and to_owner is None:
        return  # the owner was deleted since: nobody to move the contacts to
    changed_by = get_user_model().objects.filter(pk=changed_by_id).first() if changed_by_id else None
    services.contacts_reassign(
        contact_ids=contact_ids, to_owner=to_owner, source=source, changed_by=changed_by, note=note
    )
