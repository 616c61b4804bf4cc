"""What the queue shows for one contact, for the scoring tests."""

from django.utils import timezone

from leads.models import Contact
from scoring.priority import factors_enabled, factors_held, reasons_for
from scoring.services import queue_scores_refresh


def scored(contact: Contact) -> tuple[float, list[str]]:
    """The raw score and reasons the queue shows: the stored score and factors, refreshed now."""
    now = timezone.now()
    queue_scores_refresh([contact.pk], now=now)
    row = Contact.objects.select_related("queue_state").get(pk=contact.pk)
    return row.queue_score / 10, reasons_for(row, factors_held(row, factors_enabled()), now=now)
