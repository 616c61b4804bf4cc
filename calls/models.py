"""Calls, interventions and per-contact queue state (SPEC S1).

Record calls through `calls.services.call_log`, never `CallRecord.objects.create`: the service
also keeps the contact's facts (last call, counts, last activity) current.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from leads.models import Contact, Owner, Zone


class Direction(models.TextChoices):
    OUTBOUND = "OUTBOUND", "Outbound"
    INBOUND = "INBOUND", "Inbound"


class Channel(models.TextChoices):
    PHONE = "PHONE", "Phone"
    WHATSAPP = "WHATSAPP", "WhatsApp"
    EMAIL = "EMAIL", "Email"
    SMS = "SMS", "SMS"


class CallStatus(models.TextChoices):
    ANSWERED = "answered", "Answered"
    NO_ANSWER = "no_answer", "No answer"
    BUSY = "busy", "Busy"
    VOICEMAIL = "voicemail", "Voicemail"
    FAILED = "failed", "Failed"


class CallOutcome(models.TextChoices):
    CONNECTED = "connected", "Connected"
    BOOKED = "booked", "Booked"
    CALLBACK_REQUESTED = "callback_requested", "Callback requested"
    NOT_INTERESTED = "not_interested", "Not interested"
    WRONG_NUMBER = "wrong_number", "Wrong number"
    LEFT_MESSAGE = "left_message", "Left message"
    OTHER = "other", "Other"


# How people read a stored status or outcome ("No answer"); contacts keep their last call's raw
# values in columns of their own (leads does not know these choices).
_STATUS_LABELS = dict(CallStatus.choices)
_OUTCOME_LABELS = dict(CallOutcome.choices)


def call_status_label(status: str) -> str:
    return _STATUS_LABELS.get(status, status)


def call_outcome_label(outcome: str) -> str:
    return _OUTCOME_LABELS.get(outcome, outcome)


class CallSource(models.TextChoices):
    MANUAL = "manual", "Logged here"
    HUBSPOT = "hubspot", "HubSpot"
    TWILIO = "twilio", "Twilio"


class CallRecord(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="calls")
    owner = models.ForeignKey(Owner, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls")
    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.OUTBOUND)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.PHONE)
    status = models.CharField(max_length=16, choices=CallStatus.choices)
    outcome = models.CharField(max_length=32, choices=CallOutcome.choices, blank=True)
    started_at = models.DateTimeField()
    duration_seconds = models.PositiveIntegerField(default=0)
    notes = models.TextField(blank=True, help_text="Notes or transcript.")
    source = models.CharField(max_length=8, choices=CallSource.choices, default=CallSource.MANUAL)
    # Id in the source system (HubSpot call id, Twilio call SID) so a sync never counts a call twice.
    external_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            # A contact's call history newest first; also the per-contact fact rebuild.
            models.Index(fields=["contact", "-started_at"], name="call_contact_started_idx"),
            # Setter activity today / pattern breaks: one owner's calls in a time range. It holds
            # what "activity today" counts, so a busy setter's day is read from the index alone
            # (PostgreSQL), not from a thousand scattered call rows.
            models.Index(
                fields=["owner", "started_at"], include=["status", "outcome"], name="call_owner_started_idx"
            ),
            # Team-wide "calls today" and rolling windows.
            models.Index(fields=["started_at"], name="call_started_idx"),
            # Dashboard bookings yesterday / this week per owner: only the booked calls of a few
            # days, read from the index alone.
            models.Index(
                fields=["started_at", "owner"], condition=Q(outcome="booked"), name="call_booked_started_idx"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], condition=~Q(external_id=""), name="call_unique_external_id"
            ),
            # Only an answered call can have a conversation outcome such as "booked".
            models.CheckConstraint(
                condition=Q(status=CallStatus.ANSWERED)
                | ~Q(outcome__in=[CallOutcome.CONNECTED, CallOutcome.BOOKED, CallOutcome.NOT_INTERESTED]),
                name="call_conversation_outcome_needs_answer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.get_status_display()} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def is_booking(self) -> bool:
        return self.outcome == CallOutcome.BOOKED


class ScheduledCall(models.Model):
    """A call planned in HubSpot (hs_call_status QUEUED) that has not happened yet.

    It is kept apart from CallRecord on purpose: every count, fact and queue rule reads call
    records, and a call that never happened must count as nothing (not as an unanswered attempt
    that pushes the lead down the queue). When HubSpot reports the call with any other status,
    the sync stores it as a CallRecord and deletes this row in the same transaction.
    """

    hubspot_id = models.CharField(max_length=32, unique=True)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="scheduled_calls")
    owner = models.ForeignKey(
        Owner, null=True, blank=True, on_delete=models.SET_NULL, related_name="scheduled_calls"
    )
    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.OUTBOUND)
    scheduled_for = models.DateTimeField()
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["scheduled_for"]
        indexes = [
            # A contact's planned calls, soonest first.
            models.Index(fields=["contact", "scheduled_for"], name="scheduledcall_contact_idx"),
        ]

    def __str__(self) -> str:
        return f"Scheduled call {self.scheduled_for:%Y-%m-%d %H:%M}"


class InterventionType(models.TextChoices):
    WELLNESS_CHECK = "WELLNESS_CHECK", "Wellness check"
    RE_ENGAGEMENT = "RE_ENGAGEMENT", "Re-engagement"
    NEW_OWNER_INTRODUCTION = "NEW_OWNER_INTRODUCTION", "New owner introduction"
    RENEWAL = "RENEWAL", "Package renewal"
    PATTERN_BREAK_FOLLOW_UP = "PATTERN_BREAK_FOLLOW_UP", "Pattern break follow-up"


class InterventionStatus(models.TextChoices):
    OPEN = "OPEN", "Open"
    IN_PROGRESS = "IN_PROGRESS", "In progress"
    DONE = "DONE", "Done"
    CANCELLED = "CANCELLED", "Cancelled"


OPEN_INTERVENTION_STATUSES = (InterventionStatus.OPEN, InterventionStatus.IN_PROGRESS)


class InterventionOutcome(models.TextChoices):
    SUCCESS = "success", "Success"
    PARTIAL = "partial", "Partial"
    FAILED = "failed", "Failed"


class Intervention(models.Model):
    """An action planned for a client (by the system or a person) and, once done, its outcome;
    outcomes feed success rates by type and zone."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="interventions")
    intervention_type = models.CharField(max_length=32, choices=InterventionType.choices)
    owner = models.ForeignKey(
        Owner, null=True, blank=True, on_delete=models.SET_NULL, related_name="interventions"
    )
    zone_at_creation = models.CharField(max_length=8, choices=Zone.choices, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty when the system created it.",
    )
    status = models.CharField(
        max_length=16, choices=InterventionStatus.choices, default=InterventionStatus.OPEN
    )
    outcome = models.CharField(max_length=8, choices=InterventionOutcome.choices, blank=True)
    draft_message = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # Success rates by type x zone over completed interventions.
            models.Index(
                fields=["intervention_type", "zone_at_creation", "status"], name="intervention_rate_idx"
            ),
            # An owner's open interventions list.
            models.Index(fields=["owner", "status"], name="intervention_owner_status_idx"),
            # The dashboard's open interventions, newest first (a walk that stops at the page).
            models.Index(
                fields=["-created_at"],
                condition=Q(status__in=OPEN_INTERVENTION_STATUSES),
                name="intervention_open_recent_idx",
            ),
        ]
        constraints = [
            # Generating smart actions twice never opens a second one of the same kind.
            models.UniqueConstraint(
                fields=["contact", "intervention_type"],
                condition=Q(status__in=OPEN_INTERVENTION_STATUSES),
                name="intervention_one_open_per_type",
            ),
            # An outcome exists exactly when the intervention is done.
            models.CheckConstraint(
                condition=(Q(status=InterventionStatus.DONE) & ~Q(outcome=""))
                | (~Q(status=InterventionStatus.DONE) & Q(outcome="")),
                name="intervention_outcome_iff_done",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_intervention_type_display()} for {self.contact}"

    @property
    def created_by_system(self) -> bool:
        return self.created_by_id is None


class QueueState(models.Model):
    """Where a contact stands in the call queue: snoozed until when, last shown when."""

    contact = models.OneToOneField(
        Contact, primary_key=True, on_delete=models.CASCADE, related_name="queue_state"
    )
    snoozed_until = models.DateTimeField(null=True, blank=True)
    snooze_reason = models.CharField(max_length=150, blank=True)
    last_shown_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # Queue exclusion of contacts snoozed past now.
            models.Index(fields=["snoozed_until"], name="queuestate_snoozed_idx"),
        ]

    def __str__(self) -> str:
        return f"Queue state of {self.contact}"
