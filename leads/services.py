"""Writes for owners and contacts. One service = one business operation = one transaction."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Exists, OuterRef

from crm import timeutils
from leads.models import Contact, HealthScore, Owner, OwnerChange, OwnerChangeSource, ReassignmentJob, Zone
from leads.phones import normalise_phone
from scoring.figures import follow_up_figures_forget
from scoring.services import queue_scores_refresh

# Reassigning 200,000 filtered rows must not build one giant IN (...) list.
_REASSIGN_CHUNK = 2000


def contact_set_phones(contact: Contact, *, phone: str | None = None, mobile: str | None = None) -> None:
    """Normalise and set the contact's numbers in memory (callers save). A number that cannot
    be normalised is kept as typed and flagged invalid."""
    if phone is not None:
        normalised = normalise_phone(phone)
        contact.phone, contact.phone_is_valid = normalised.value, normalised.is_valid
    if mobile is not None:
        normalised = normalise_phone(mobile)
        contact.mobile, contact.mobile_is_valid = normalised.value, normalised.is_valid


@transaction.atomic
def contacts_reassign(
    *,
    contact_ids: Iterable[int],
    to_owner: Owner | None,
    source: str = OwnerChangeSource.MANUAL,
    changed_by: AbstractBaseUser | None = None,
    note: str = "",
    at: datetime | None = None,
) -> int:
    """Give the contacts a new owner, recording one OwnerChange per contact that really moves.

    Contacts already owned by `to_owner` are left alone (no empty history rows), so running the
    same reassignment twice changes nothing the second time. Rows are locked while they move, so
    two managers reassigning the same contact at once produce two honest history rows, never a
    from-owner that was already stale. Returns how many contacts moved.
    """
    at = at or timeutils.now()
    ids = list(contact_ids)
    moved = 0
    for start in range(0, len(ids), _REASSIGN_CHUNK):
        chunk = ids[start : start + _REASSIGN_CHUNK]
        rows = list(
            Contact.objects.select_for_update()
            .filter(pk__in=chunk)
            .exclude(owner=to_owner)
            .values_list("pk", "owner_id")
        )
        if not rows:
            continue
        OwnerChange.objects.bulk_create(
            OwnerChange(
                contact_id=pk,
                from_owner_id=from_owner_id,
                to_owner=to_owner,
                changed_at=at,
                source=source,
                changed_by=changed_by,
                note=note,
            )
            for pk, from_owner_id in rows
        )
        moved_ids = [pk for pk, _ in rows]
        moved += Contact.objects.filter(pk__in=moved_ids).update(owner=to_owner, owner_changed_at=at)
        follow_up_figures_forget({from_owner_id for _, from_owner_id in rows})  # the new owner's: below
        queue_scores_refresh(moved_ids)
    return moved


# Up to this many contacts move inside the request (about a fifth of a second); a bigger
# selection goes to the workers in chunks, so a manager reassigning a whole filtered table never
# waits half a minute on a request holding 200,000 row locks.
REASSIGN_IN_REQUEST_MAX = 1000


@dataclass(frozen=True)
class Reassignment:
    moved: int  # moved now
    queued: int  # handed to the workers (the job below), to move after this transaction commits
    job: ReassignmentJob | None = None  # the background job moving them, with its progress

    @property
    def in_background(self) -> bool:
        return self.queued > 0


def contacts_reassign_now_or_queued(
    *,
    contact_ids: Iterable[int],
    to_owner: Owner | None,
    source: str = OwnerChangeSource.MANUAL,
    changed_by: AbstractBaseUser | None = None,
    note: str = "",
) -> Reassignment:
    """contacts_reassign for a person's selection: done at once when small, otherwise recorded as
    a ReassignmentJob that the workers move in batches, its progress on the follow-up page
    (leads.reassignment: each batch commits with the job's progress, so a retry never moves a
    contact twice)."""
    ids = list(contact_ids)
    if len(ids) <= REASSIGN_IN_REQUEST_MAX:
        moved = contacts_reassign(
            contact_ids=ids, to_owner=to_owner, source=source, changed_by=changed_by, note=note
        )
        return Reassignment(moved=moved, queued=0)
    from leads.reassignment import reassignment_job_start  # that module builds on this one

    job = reassignment_job_start(
        contact_ids=ids, to_owner=to_owner, changed_by=changed_by, source=source, note=note
    )
    return Reassignment(moved=0, queued=job.total, job=job)


def health_zone_for(score: int) -> str:
    """The zone a health score falls in: PURPLE thriving, GREEN healthy ... RED at risk."""
    if score >= 85:
        return Zone.PURPLE
    if score >= 70:
        return Zone.GREEN
    if score >= 50:
        return Zone.YELLOW
    if score >= 30:
        return Zone.ORANGE
    return Zone.RED


@transaction.atomic
def health_score_record(
    *,
    contact: Contact,
    score: int,
    predictive_risk: int = 0,
    package_value: Decimal = Decimal(0),
    sessions_left: int | None = None,
    package_end_date: date | None = None,
    days_since_last_session: int | None = None,
    pattern_status: str = "",
    zone: str | None = None,
    computed_at: datetime | None = None,
) -> HealthScore:
    """Append a health score to the contact's history and, unless a newer one exists, make it
    the contact's current health."""
    computed_at = computed_at or timeutils.now()
    health = HealthScore.objects.create(
        contact=contact,
        score=score,
        zone=zone or health_zone_for(score),
        predictive_risk=predictive_risk,
        package_value=package_value,
        sessions_left=sessions_left,
        package_end_date=package_end_date,
        days_since_last_session=days_since_last_session,
        pattern_status=pattern_status,
        computed_at=computed_at,
    )
    newer = HealthScore.objects.filter(contact=OuterRef("pk"), computed_at__gt=computed_at)
    Contact.objects.filter(pk=contact.pk).exclude(Exists(newer)).update(
        health_score=health.score,
        health_zone=health.zone,
        predictive_risk=health.predictive_risk,
        pattern_status=health.pattern_status,
        package_end_date=health.package_end_date,
        sessions_left=health.sessions_left,
    )
    queue_scores_refresh([contact.pk])
    return health
