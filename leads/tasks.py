from celery import shared_task
from django.contrib.auth import get_user_model

from leads import services
from leads.models import Owner


@shared_task(name="leads.reassign_contacts", acks_late=True, ignore_result=True, soft_time_limit=300)
def reassign_contacts_task(
    *, contact_ids: list[int], to_owner_id: int | None, source: str, changed_by_id: int | None, note: str
) -> None:
    """Move one chunk of a large reassignment. Contacts already with the new owner are skipped, so
    a retry after a crash finishes the chunk without recording any move twice."""
    to_owner = Owner.objects.filter(pk=to_owner_id).first() if to_owner_id else None
    if to_owner_id and to_owner is None:
        return  # the owner was deleted since: nobody to move the contacts to
    changed_by = get_user_model().objects.filter(pk=changed_by_id).first() if changed_by_id else None
    services.contacts_reassign(
        contact_ids=contact_ids, to_owner=to_owner, source=source, changed_by=changed_by, note=note
    )
