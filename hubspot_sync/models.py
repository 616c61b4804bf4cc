"""What the HubSpot sync remembers: a cursor and lock per object type, every run, the records it
could not store yet, and every webhook event received (SPEC S5)."""

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
    # Every change made in HubSpot before the run started is stored.
    SUCCEEDED = "succeeded", "Succeeded"
    # Everything was read, but some records wait in ParkedRecord (a call whose contact HubSpot
    # cannot give us yet): nothing is lost, and every later run of the type retries them.
    INCOMPLETE = "incomplete", "Incomplete: records parked"
    FAILED = "failed", "Failed"


class SyncCursor(models.Model):
    """Where the next sync of one object type starts, and who is syncing it now.

    `modified_after` moves only after a page of records is stored, so a run that fails keeps
    everything before it and the next run resumes there. A full sync remembers its list cursor
    (`full_after`) the same way.

    The lock is a lease kept alive by its holder's heartbeat: the run renews `locked_until` with
    every page and every request it sends (also through long rate-limit waits), so a worker that
    is killed frees its type one lease later (HUBSPOT_SYNC_LOCK_LEASE_SECONDS), and the next run
    marks the dead run failed. Ops can release a lock in the admin; the holder then stops at its
    next heartbeat.
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
    locked_until = models.DateTimeField(
        null=True, blank=True, help_text="The lock holder's lease: free once this has passed."
    )
    locked_by = models.CharField(max_length=64, blank=True, help_text="Lock token of the holder.")
    locked_run = models.ForeignKey(
        "SyncRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The run holding it.",
    )
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="The holder's last sign of life.")
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
        default=0, help_text="HubSpot copies of calls logged here (the call is stored once, as logged)."
    )
    parked = models.PositiveIntegerField(
        default=0, help_text="Records this run could not store yet (their contact is missing): retried."
    )
    parents_fetched = models.PositiveIntegerField(
        default=0, help_text="Contacts read by id because a record of this run pointed at them."
    )
    failed = models.PositiveIntegerField(default=0, help_text="Records on the page that failed.")
    owner_changes = models.PositiveIntegerField(default=0)
    requests = models.PositiveIntegerField(default=0, help_text="HTTP requests made to HubSpot.")
    retries = models.PositiveIntegerField(default=0, help_text="Requests retried (429, 5xx, timeouts).")
    rate_limited = models.PositiveIntegerField(default=0, help_text="429 answers waited out.")
    waited_seconds = models.FloatField(default=0, help_text="Time spent waiting out 429s.")
    cursor_from = models.DateTimeField(null=True, blank=True)
    cursor_to = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
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

    # What each stored page adds to; the admin lists them in this order.
    RECORD_COUNTS = (
        "created",
        "updated",
        "unchanged",
        "skipped",
        "parked",
        "parents_fetched",
        "owner_changes",
    )

    def __str__(self) -> str:
        return f"{self.get_mode_display()} {self.get_object_type_display()} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class ParkedRecord(models.Model):
    """A HubSpot record that cannot be stored yet, kept whole so no cursor moves past it.

    A call, task or deal whose contact neither we nor HubSpot's batch read (active or archived)
    can give, or one with no contact association at all, waits here. Every later run of its type
    reads it again from HubSpot and stores it once its contact resolves; a record HubSpot no
    longer has is dropped. Storing the record by any path (search, list, webhook) removes it.
    Ops see them in the admin and may discard one they know will never resolve.
    """

    object_type = models.CharField(max_length=16, choices=ObjectType.choices)
    hubspot_id = models.CharField(max_length=32)
    reason = models.CharField(max_length=255)
    payload = models.JSONField(help_text="The record as HubSpot last sent it.")
    parked_at = models.DateTimeField()
    last_tried_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["object_type", "parked_at"]
        constraints = [
            models.UniqueConstraint(fields=["object_type", "hubspot_id"], name="parked_record_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_object_type_display()} {self.hubspot_id}: {self.reason}"


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
