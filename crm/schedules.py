"""Default beat schedules, created by migrations and safe to re-run.

Rows live in django-celery-beat's tables so ops can see, pause and change them in the admin;
`schedules_ensure` only creates what is missing and never overwrites what ops changed.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class DefaultSchedule:
    name: str
    task: str
    minute: str
    hour: str
    expires_seconds: int  # shorter than the period: a backlog of stale runs is dropped, not replayed
    description: str


DEFAULT_SCHEDULES = [
    DefaultSchedule(
        name="Nightly rebuild of contact call facts",
        task="calls.rebuild_contact_facts",
        minute="17",
        hour="3",
        expires_seconds=6 * 3600,
        description="Safety net: recompute last call, counts and last activity from the call records.",
    ),
    DefaultSchedule(
        name="Detect pattern breaks",
        task="calls.detect_pattern_breaks",
        minute="23",
        hour="*",
        expires_seconds=50 * 60,
        description="Mark contacts whose calls fell below half their usual weekly rhythm (SPEC S10).",
    ),
]


def schedules_ensure(apps, schema_editor=None) -> None:
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    from django.conf import settings

    for default in DEFAULT_SCHEDULES:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=default.minute,
            hour=default.hour,
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone=settings.TIME_ZONE,
        )
        PeriodicTask.objects.get_or_create(
            name=default.name,
            defaults={
                "task": default.task,
                "crontab": crontab,
                "expire_seconds": default.expires_seconds,
                "description": default.description,
            },
        )
