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
    kwargs: str = "{}"  # JSON keyword arguments of the task


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
    DefaultSchedule(
        name="Refresh call-queue scores",
        task="scoring.refresh_queue_scores",
        minute="*/5",
        hour="*",
        expires_seconds=4 * 60,
        description="Re-score the queue for what time alone changes (lead age, days without contact, "
        "snoozes running out); writes only the contacts whose priority moved.",
    ),
    DefaultSchedule(
        name="Daily revenue-at-risk snapshot",
        task="scoring.take_revenue_snapshot",
        # Late in the business day, so the row is the day's closing figure; a missed night is
        # rebuilt from the health-score history by the next run.
        minute="50",
        hour="23",
        expires_seconds=6 * 3600,
        description="Record today's revenue at risk for the dashboard's 7- and 30-day trends and "
        "rebuild any missed day from health-score history (one row per day; safe to re-run).",
    ),
]


# HubSpot sync (SPEC S5): each type every 15 minutes, staggered so they never start together,
# owners hourly, a full reconcile nightly (archived records, anything incremental search missed).
DEFAULT_SCHEDULES += [
    DefaultSchedule(
        name=f"HubSpot sync: {object_type}",
        task="hubspot_sync.sync",
        minute=minutes,
        hour="*",
        expires_seconds=14 * 60,
        description=f"Incremental sync of HubSpot {object_type} (modified since the saved cursor).",
        kwargs=f'{{"object_types": ["{object_type}"]}}',
    )
    for object_type, minutes in [
        ("deals", "1,16,31,46"),
        ("contacts", "4,19,34,49"),
        ("calls", "7,22,37,52"),
        ("tasks", "10,25,40,55"),
    ]
] + [
    DefaultSchedule(
        name="HubSpot sync: owners",
        task="hubspot_sync.sync",
        minute="58",
        hour="*",
        expires_seconds=50 * 60,
        description="All HubSpot owners, including deactivated ones.",
        kwargs='{"object_types": ["owners"]}',
    ),
    DefaultSchedule(
        name="HubSpot full reconcile",
        task="hubspot_sync.sync",
        minute="35",
        hour="2",
        expires_seconds=6 * 3600,
        description="Nightly full sync of every type: marks archived records, catches what "
        "incremental search missed (association changes, indexing lag).",
        kwargs='{"full": true}',
    ),
    DefaultSchedule(
        name="HubSpot webhook events",
        task="hubspot_sync.process_webhook_events",
        minute="*/5",
        hour="*",
        expires_seconds=4 * 60,
        description="Safety net: apply webhook events whose immediate processing did not run.",
    ),
]


# Lead replenishment (SPEC S9): every 30 minutes; the run itself enforces cooldown and caps, and
# hands waiting leads to owners whose 24-hour quota freed up.
DEFAULT_SCHEDULES += [
    DefaultSchedule(
        name="Lead replenishment",
        task="campaigns.replenish",
        minute="13,43",
        hour="*",
        expires_seconds=25 * 60,
        description="Top up the lead inventory from the sources when below thresholds, and assign "
        "waiting leads fairly (SPEC S9).",
    ),
]


# Background jobs whose worker died: every minute, so a killed worker delays a manager's large
# reassignment by about a lease (JOB_LEASE_SECONDS), not by the broker's visibility timeout.
DEFAULT_SCHEDULES += [
    DefaultSchedule(
        name="Resume stalled reassignments",
        task="leads.resume_stalled_reassignments",
        minute="*",
        hour="*",
        expires_seconds=50,
        description="Queue again the large reassignments whose worker stopped renewing its lease "
        "(each continues after its last committed batch; nothing moves twice).",
    ),
]


# Action-form keys (crm.idempotency) only need to outlive a retry; hourly keeps the table small.
DEFAULT_SCHEDULES += [
    DefaultSchedule(
        name="Expire action-form keys",
        task="crm.expire_idempotency_keys",
        minute="29",
        hour="*",
        expires_seconds=50 * 60,
        description="Delete one-time action-form keys older than a day (a repeated POST within "
        "that day gets its first answer again).",
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
                "kwargs": default.kwargs,
            },
        )
