"""System checks for how background work is configured (`manage.py check`, and every start)."""

from django.conf import settings
from django.core.checks import Error, register


@register("celery")
def task_limits_fit_visibility_timeout(app_configs=None, **kwargs) -> list[Error]:
    """Every task acknowledged late has a hard time limit shorter than the broker's visibility
    timeout: Redis redelivers an unacknowledged message after that timeout whether or not its
    worker is alive, so a task allowed to run longer would be delivered twice."""
    from django.utils.module_loading import autodiscover_modules

    from crm.celery import app

    # The apps' tasks modules, as a worker loads them (not app.loader.import_default_modules(),
    # whose Django fixup runs these checks again).
    autodiscover_modules("tasks")
    timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    errors = []
    for name, task in sorted(app.tasks.items()):
        if name.startswith("celery.") or not task.acks_late:
            continue
        if task.time_limit is None or task.time_limit >= timeout:
            errors.append(
                Error(
                    f"Task {name} is acknowledged late but its time_limit ({task.time_limit} s) is not "
                    f"shorter than the broker's visibility timeout ({timeout} s): a long run would be "
                    "delivered twice.",
                    hint="Give it a time_limit, chunk the work into shorter tasks, or raise "
                    "CELERY_VISIBILITY_TIMEOUT_SECONDS.",
                    id="crm.E010",
                )
            )
    return errors
