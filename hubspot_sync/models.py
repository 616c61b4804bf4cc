"""What the HubSpot sync remembers: a cursor and lock per object type, every run, and every
webhook event received (SPEC S5)."""

from django.db import models
from django.db.models import Q


class ObjectType(models.TextChoices):
    # Values are HubSpot's object type names, so they go into paths as they are.
    OWNERS = "owners", "Owners"
    CONTACTS = "contacts", "Contacts"
    DEALS = "deals", "Deals"
    CALLS = "calls", "Calls"
    TASKS = "tasks", "Tasks"


# The order a sync of everything runs in: owners first so records find their owner, contacts
# before the records associated with them.
SYNC_ORDER = [ObjectType.OWNERS, ObjectType.CONTACTS, ObjectType.DEALS, ObjectType.CALLS, ObjectType.TASKS]


class SyncMode(models.TextChoices):
    FULL = "full", "Full"
    INCREMENTAL = "incremental", "Incremental"
    WEBHOOK = "webhook", "Webhook re-fetch"


class SyncStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class SyncCursor(models.Model):
    """Where the next sync of one object type starts, and who is syncing it now.

    `modified_after` moves only after a page of records is stored, so a run that fails keeps
    everything before it and the next run resumes there. A full sync remembers its list cursor
    (`full_after`) the same way. `locked_until` is a lock that expires: a worker killed mid-run
    cannot block its object type for longer than that.
    """

    object_type = models.CharField(max_length=16, choices=ObjectType.choices, unique=True)
    modified_after = models.DateTimeField(
        null=True, blank=True, help_text="Incremental sync reads records modified from here on."
    )
    full_after = models.CharField(
        max_length=255, blank=True, help_text="List cursor of an unfinished full sync (resumes there)."
    )
    full_archived_phase = models.BooleanField(
        default=False, help_text="The unfinished full sync was reading archived records."
    )
    full_started_at = models.DateTimeField(null=True, blank=True)
    last_full_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    locked_by = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.get_object_type_display()} from {self.modified_after or 'the start'}"


class SyncRun(models.Model):
    """One sync of one object type: what it read and stored, and how it ended."""

    object_type = models.CharField(max_length=16, choices=ObjectType.choices)
    mode = models.CharField(max_length=16, choices=SyncMode.choices)
    status = models.CharField(max_length=16, choices=SyncStatus.choices, default=SyncStatus.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    pages = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(
        default=0, help_text="Records that cannot be stored (reason logged)."
    )
    failed = models.PositiveIntegerField(default=0, help_text="Records on the page that failed.")
    owner_changes = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0, help_text="HTTP requests made to HubSpot.")
    retries = models.PositiveIntegerField(default=0, help_text="Requests retried (429, 5xx, timeouts).")
    cursor_from = models.DateTimeField(null=True, blank=True)
    cursor_to = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            # Admin list and "last run of this type", newest first.
            models.Index(fields=["object_type", "-started_at"], name="syncrun_type_started_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status=SyncStatus.RUNNING) | Q(finished_at__isnull=False),
                name="syncrun_finished_when_done",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_mode_display()} {self.get_object_type_display()} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class WebhookEvent(models.Model):
    """One event of a HubSpot webhook delivery, stored once however often it is delivered.

    HubSpot retries deliveries, sends duplicates and does not keep order; its eventId alone is
    not unique. Events only say "this record changed": processing re-fetches the record.
    """

    subscription_id = models.BigIntegerField()
    event_id = models.BigIntegerField()
    object_id = models.CharField(max_length=32)
    occurred_at = models.DateTimeField()
    subscription_type = models.CharField(max_length=64)
    object_type = models.CharField(max_length=16, choices=ObjectType.choices, blank=True)
    property_name = models.CharField(max_length=100, blank=True)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [
            # The processing task's "not processed yet" batch (a small share of all rows).
            models.Index(
                fields=["received_at"], condition=Q(processed_at__isnull=True), name="webhook_pending_idx"
            ),
        ]
        constraints = [
            # HubSpot's documented dedup key: eventId alone repeats.
            models.UniqueConstraint(
                fields=["subscription_id", "event_id", "object_id", "occurred_at"], name="webhook_event_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subscription_type} {self.object_id} @ {self.occurred_at:%Y-%m-%d %H:%M:%S}"
