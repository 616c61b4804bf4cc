from celery import shared_task

from crm import idempotency


@shared_task(
    name="crm.expire_idempotency_keys",
    acks_late=True,
    ignore_result=True,
    soft_time_limit=300,
    time_limit=360,
)
def expire_idempotency_keys_task() -> None:
    """Delete action-form keys past their lifetime; a plain DELETE by age, safe to run twice."""
    idempotency.idempotency_keys_expire()
