from celery import shared_task

from scoring import figures, services, snapshots


@shared_task(
    name="scoring.refresh_queue_scores",
    acks_late=True,
    ignore_result=True,
    soft_time_limit=240,
    time_limit=280,
)
def refresh_queue_scores_task(contact_ids: list[int] | None = None) -> None:
    """Re-score contacts for the call queue (all when no ids). Services re-score what they change;
    this catches what time alone changes (a lead turning 24 hours old, a week passing without
    contact, a snooze running out). A recompute: running it twice writes nothing the second time.
    A full run also recounts every owner's follow-up figures (what a forgotten write left behind)."""
    services.queue_scores_refresh(contact_ids)
    if contact_ids is None:
        figures.follow_up_figures_refresh()


@shared_task(
    name="scoring.take_revenue_snapshot",
    acks_late=True,
    ignore_result=True,
    soft_time_limit=600,
    time_limit=660,
)
def take_revenue_snapshot_task() -> None:
    """Record today's revenue at risk and rebuild missed days from the health-score history.
    One row per day: running it twice a day overwrites today's row and adds nothing else."""
    snapshots.revenue_snapshots_take()
