from celery import shared_task

from calls import services


@shared_task(
    name="calls.rebuild_contact_facts",
    acks_late=True,
    ignore_result=True,
    soft_time_limit=1800,
    time_limit=1900,
)
def rebuild_contact_facts_task(contact_ids: list[int] | None = None) -> None:
    """Recompute contacts' call facts from the call records (all contacts when no ids).

    A deterministic recompute, so running it twice, or again after a crash, leaves the same state.
    Scheduled nightly as a safety net under the per-call updates done by calls.services.call_log.
    """
    services.contact_facts_rebuild(contact_ids=contact_ids)


@shared_task(
    name="calls.detect_pattern_breaks",
    acks_late=True,
    ignore_result=True,
    soft_time_limit=300,
    time_limit=360,
)
def detect_pattern_breaks_task() -> None:
    """Recompute contacts' call rhythm status and owners' usual calling days (deterministic
    recomputes: safe to run twice)."""
    services.pattern_breaks_detect()
    services.owner_rhythms_refresh()
