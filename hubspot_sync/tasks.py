"""Celery tasks for the HubSpot sync: thin, taking names, safe to run twice (upserts keyed by
HubSpot id; a type already syncing is left to the run that holds its lock)."""

import logging

from celery import shared_task
from django.conf import settings

from hubspot_sync import services

logger = logging.getLogger(__name__)


# Acknowledged on receipt, not late: a sync stores each page with its cursor and holds its lock by
# heartbeat, so one whose worker died loses nothing (beat starts the type again within 15 minutes
# and it resumes). A redelivery would only repeat it (a full sync for hours), and no visibility
# timeout shorter than its 3 h limit could tell a dead worker from a slow sync.
@shared_task(
    name="hubspot_sync.sync",
    acks_late=False,
    ignore_result=True,
    soft_time_limit=3 * 3600,
    time_limit=3 * 3600 + 300,
)
def sync_task(object_types: list[str] | None = None, full: bool = False) -> None:
    """Sync the given object types (all when none), incrementally unless `full`. A failure is
    recorded on the run (ops see it in the admin) and the next run resumes from the saved cursor,
    so the task itself never retries."""
    if not settings.HUBSPOT_ENABLED:
        logger.info("hubspot.sync_disabled")
        return
    services.sync_all(full=full, object_types=object_types)


# The time limit exceeds the client's 429 deadline (HUBSPOT_RATE_LIMIT_DEADLINE_SECONDS, 15 min), so a
# long rate-limit wait ends as the run's own error, recorded, rather than a killed task.
@shared_task(name="hubspot_sync.process_webhook_events", acks_late=True, ignore_result=True,
             soft_time_limit=1800, time_limit=1860)  # fmt: skip
def process_webhook_events_task() -> None:
    """Apply the webhook events not processed yet (each is marked processed with its change)."""
    if not settings.HUBSPOT_ENABLED:
        return
    services.webhook_events_process()
