from celery import shared_task

from campaigns.models import RunTrigger
from campaigns.replenishment import replenishment_run


@shared_task(
    name="campaigns.replenish",
    acks_late=True,
    ignore_result=True,
    soft_time_limit=540,
    time_limit=600,
)
def replenish_task() -> None:
    """One replenishment run (every 30 minutes on beat).

    Safe to run twice or to redeliver after a crash: runs never overlap (the lease), a crashed run
    rolled back everything it did, and the cooldown keeps a second run from uploading again.
    """
    replenishment_run(trigger=RunTrigger.SCHEDULE)
