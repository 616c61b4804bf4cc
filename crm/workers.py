"""Is a Celery worker there to run what a button is about to queue?

A task queued with no worker consuming its queue waits in Redis until one starts: a button that
says "queued, refresh to see its run" would be promising a run that never comes. The admin asks
the workers first (a broadcast over the broker, answered by each worker's main process even while
its pool is busy) and says so when nobody answers.
"""

import logging

from crm.celery import app

logger = logging.getLogger(__name__)

# Long enough for a worker on the same network to answer, short enough for a button press.
PING_TIMEOUT_SECONDS = 1.0


def worker_listening(*, queue: str | None = None, timeout: float = PING_TIMEOUT_SECONDS) -> bool:
    """Whether a live worker consumes `queue` (the default task queue when None).

    Checks the queue, not just any worker, so a worker started for another queue (or another
    deployment sharing the broker) does not count. False when the broker cannot be reached.
    """
    queue = queue or app.conf.task_default_queue
    try:
        replies = app.control.inspect(timeout=timeout).active_queues() or {}
    except Exception:  # the broker is down: nothing can be queued either
        logger.warning("celery.inspect_failed", exc_info=True)
        return False
    return any(declared.get("name") == queue for queues in replies.values() for declared in queues or [])
