"""The broker's visibility timeout against the tasks' time limits (crm.checks)."""

from celery import shared_task

from crm.celery import app
from crm.checks import task_limits_fit_visibility_timeout


def test_every_late_acknowledged_task_ends_before_the_visibility_timeout():
    # Redis redelivers an unacknowledged message after the timeout even if its worker is alive:
    # a task allowed to run longer (the HubSpot sync's 3 h, a chunk task with no hard limit)
    # would run twice.
    assert task_limits_fit_visibility_timeout() == []


def test_a_task_that_could_outlive_the_visibility_timeout_is_an_error(settings):
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 600}

    @shared_task(name="tests.too_long", acks_late=True, time_limit=900)
    def too_long() -> None:  # pragma: no cover - never run
        pass

    try:
        errors = task_limits_fit_visibility_timeout()
    finally:
        app.tasks.pop("tests.too_long", None)
    assert [e.id for e in errors if "tests.too_long" in e.msg] == ["crm.E010"]
    # the nightly facts rebuild (1,900 s) does not fit 600 s either
    assert any("calls.rebuild_contact_facts" in e.msg for e in errors)


def test_the_hubspot_sync_is_acknowledged_on_receipt():
    # Resumable from its cursor and re-run by beat, it gains nothing from a redelivery after its
    # worker died, and no visibility timeout below its 3 h limit could tell dead from slow.
    assert app.tasks["hubspot_sync.sync"].acks_late is False
    assert app.tasks["leads.run_reassignment_job"].acks_late is True
    # and a task whose worker process is lost goes back to the queue rather than being
    # acknowledged as failed
    assert app.conf.task_reject_on_worker_lost is True
