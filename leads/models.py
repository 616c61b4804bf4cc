"""Owners, contacts and what HubSpot tells us about them (SPEC S1).

Contact also carries *facts kept up to date* from call records (last call, counts, last
activity) and its current health, so the call queue and the follow-up table read one row per
contact instead of scanning two million call records per request. Services in
`calls.services` and `leads.services` keep them current; `manage.py rebuild_contact_facts`
recomputes them from the source rows.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower, StrIndex, Substr

from crm.models import TimeStampedModel

# An email's domain, lower-cased ("Nadia@Example.com" -> "example.com"): indexed, and filtered on
# through this same expression so the database matches the index.
EMAIL_DOMAIN = Substr(Lower("email"), StrIndex("email", models.Value("@")) + 1)


class LifecycleStage(models.TextChoices):
    # Values are HubSpot's internal lifecycle stage names, so sync maps them one to one.
    SUBSCRIBER = "subscriber", "Subscriber"
    LEAD = "lead", "Lead"
    MQL = "marketingqualifiedlead", "MQL"
    SQL = "salesqualifiedlead", "SQL"
    OPPORTUNITY = "opportunity", "Opportunity"
    CUSTOMER = "customer", "Customer"
    EVANGELIST = "evangelist", "Evangelist"
    OTHER = "other", "Other"
    LOST = "lost", "Lost"


# SPEC S2: a contact whose owner changed this recently is marked "new owner" in the queue, gets
# an introduction in its draft, and is listed under "recently assigned". (Its priority factor has
# its own threshold, which ops may tune.)
OWNER_RECENTLY_CHANGED_DAYS = 7

# The stages a setter works (the follow-up table's rows).
FOLLOW_UP_STAGES = (
    LifecycleStage.LEAD,
    LifecycleStage.MQL,
    LifecycleStage.SQL,
    LifecycleStage.OPPORTUNITY,
    LifecycleStage.CUSTOMER,
)


class LeadStatus(models.TextChoices):
    # HubSpot's default hs_lead_status options.
    NEW = "NEW", "New"
    OPEN = "OPEN", "Open"
    IN_PROGRESS = "IN_PROGRESS", "In progress"
    OPEN_DEAL = "OPEN_DEAL", "Open deal"
    UNQUALIFIED = "UNQUALIFIED", "Unqualified"
    ATTEMPTED_TO_CONTACT = "ATTEMPTED_TO_CONTACT", "Attempted to contact"
    CONNECTED = "CONNECTED", "Connected"
    BAD_TIMING = "BAD_TIMING", "Bad timing"


class Tier(models.TextChoices):
    A_PLUS = "A+", "A+"
    A = "A", "A"
    B = "B", "B"


class Zone(models.TextChoices):
    RED = "RED", "Red"
    ORANGE = "ORANGE", "Orange"
    YELLOW = "YELLOW", "Yellow"
    GREEN = "GREEN", "Green"
    PURPLE = "PURPLE", "Purple"


class PatternStatus(models.TextChoices):
    ON_TRACK = "ON_TRACK", "On track"
    PATTERN_BREAK = "PATTERN_BREAK", "Pattern break"
    NO_PATTERN = "NO_PATTERN", "Not enough history"


class Owner(TimeStampedModel):
    """A HubSpot owner: a setter or coach who works leads (may be linked to a login)."""

    hubspot_id = models.CharField(max_length=32, unique=True, null=True, blank=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    is_active = models.BooleanField(default=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owner"
    )
    team = models.CharField(max_length=100, blank=True)
    daily_call_capacity = models.PositiveIntegerField(
        default=60, help_text="Calls a day this owner can make."
    )
    weekly_booking_target = models.PositiveIntegerField(default=10, help_text="Bookings a week expected.")
    # The owner's calling rhythm, refreshed hourly by calls.services.owner_rhythms_refresh: ISO
    # weekdays (1 = Monday) they called on in most of the last 4 weeks.
    usual_call_weekdays = models.JSONField(default=list, blank=True, editable=False)
    # Fair assignment (leads.assignment): an owner away gets no new leads, and on return joins
    # the rotation where it stands instead of catching up on what arrived meanwhile.
    away_until = models.DateField(
        null=True, blank=True, help_text="Last day away: gets no new leads up to and including this date."
    )
    # Where this owner stands in the capacity-weighted rotation (virtual time of their last lead);
    # kept by leads.assignment, never typed.
    rotation_finish = models.FloatField(default=0, editable=False)

    class Meta:
        ordering = ["first_name", "last_name"]

    def __str__(self) -> str:
        return self.full_name or self.email or f"Owner {self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Contact(TimeStampedModel):
    hubspot_id = models.CharField(max_length=32, unique=True, null=True, blank=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    # E.164 when the number could be normalised, else kept as typed with *_is_valid False.
    phone = models.CharField(max_length=40, blank=True)
    phone_is_valid = models.BooleanField(default=True)
    mobile = models.CharField(max_length=40, blank=True)
    mobile_is_valid = models.BooleanField(default=True)
    city = models.CharField(max_length=100, blank=True)

    owner = models.ForeignKey(
        Owner, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    owner_changed_at = models.DateTimeField(null=True, blank=True)
    assigned_coach = models.CharField(max_length=150, blank=True)
    lifecycle_stage = models.CharField(
        max_length=32, choices=LifecycleStage.choices, default=LifecycleStage.LEAD
    )
    lead_status = models.CharField(max_length=32, choices=LeadStatus.choices, blank=True)
    lead_source = models.CharField(max_length=100, blank=True)
    utm_source = models.CharField(max_length=150, blank=True)
    utm_medium = models.CharField(max_length=150, blank=True)
    utm_campaign = models.CharField(max_length=150, blank=True)
    utm_term = models.CharField(max_length=150, blank=True)
    utm_content = models.CharField(max_length=150, blank=True)
    tier = models.CharField(max_length=2, choices=Tier.choices, blank=True, help_text="Replenishment tier.")

    hs_created_at = models.DateTimeField(null=True, blank=True, help_text="Created in HubSpot.")
    hs_updated_at = models.DateTimeField(null=True, blank=True, help_text="Last modified in HubSpot.")

    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_duplicates",
        help_text="The surviving contact this duplicate was merged into.",
    )
    is_archived = models.BooleanField(default=False)
    do_not_contact = models.BooleanField(default=False)
    # Per-channel consent: a channel the contact opted out of is never recommended or used.
    phone_opt_out = models.BooleanField(default=False)
    whatsapp_opt_out = models.BooleanField(default=False)
    email_opt_out = models.BooleanField(default=False)
    sms_opt_out = models.BooleanField(default=False)

    # --- Facts kept up to date from call records (calls.services) --------------------
    last_call_at = models.DateTimeField(null=True, blank=True)
    last_call_status = models.CharField(max_length=16, blank=True)
    last_call_outcome = models.CharField(max_length=32, blank=True)
    last_call_note = models.CharField(
        max_length=280, blank=True, help_text="Excerpt of the last call's notes."
    )
    last_reached_at = models.DateTimeField(null=True, blank=True, help_text="Last answered call.")
    call_count = models.PositiveIntegerField(default=0)
    outgoing_call_count = models.PositiveIntegerField(default=0)
    answered_call_count = models.PositiveIntegerField(default=0)
    booking_count = models.PositiveIntegerField(default=0)
    # Latest of the last call and the last deal change (SPEC S3 "last activity"); None when the
    # contact was never worked, and readers then count from its creation.
    last_activity_at = models.DateTimeField(null=True, blank=True)
    # Earliest due time of the contact's open tasks: "overdue" is next_task_due_at < now.
    next_task_due_at = models.DateTimeField(null=True, blank=True)
    # Largest amount among the contact's open deals (AED), for "open deal value".
    open_deal_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

    # --- Current health (latest HealthScore row; history in HealthScore) ---------------
    health_score = models.PositiveSmallIntegerField(null=True, blank=True)
    health_zone = models.CharField(max_length=8, choices=Zone.choices, blank=True)
    predictive_risk = models.PositiveSmallIntegerField(null=True, blank=True)
    pattern_status = models.CharField(max_length=16, choices=PatternStatus.choices, blank=True)
    package_end_date = models.DateField(null=True, blank=True)
    sessions_left = models.PositiveSmallIntegerField(null=True, blank=True)

    # --- Call-queue priority (SPEC S2), kept by scoring.services.queue_scores_refresh ---
    # Ten times the sum of the weights of the priority factors that hold (priority 8 = 80), so
    # the queue is an index walk instead of scoring every contact per request. NULL: not in any
    # queue (archived, merged, do-not-contact, or a stage that is not followed up).
    queue_score = models.SmallIntegerField(null=True, blank=True, editable=False)
    # The keys of the factors that hold, each followed by a comma ("zone_red,never_called,"), kept
    # with the score: the queue shows an entry's reasons without evaluating every factor again.
    queue_factors = models.CharField(max_length=500, blank=True, default="", editable=False)

    class Meta:
        indexes = [
            # The call queue of one owner and of everyone, best first: a walk down these stops at
            # the page's 50 rows. The owner's also holds every other column the queue filters on
            # (the workable conditions are its predicate), so counting the queue's thousands of
            # rows reads no contact row on PostgreSQL beyond a visibility check.
            models.Index(
                fields=["owner", "-queue_score", "last_call_at", "id"],
                include=["health_zone", "next_task_due_at"],
                condition=Q(
                    queue_score__isnull=False,
                    is_archived=False,
                    merged_into__isnull=True,
                    do_not_contact=False,
                    lifecycle_stage__in=FOLLOW_UP_STAGES,
                ),
                name="contact_queue_owner_idx",
            ),
            models.Index(
                fields=["-queue_score", "last_call_at", "id"],
                condition=Q(queue_score__isnull=False),
                name="contact_queue_idx",
            ),
            # Call queue and follow-up table for one owner, oldest contact first.
            models.Index(fields=["owner", "last_activity_at"], name="contact_owner_activity_idx"),
            # Follow-up table rows: stage filter plus "days since contact" sort.
            models.Index(fields=["lifecycle_stage", "last_activity_at"], name="contact_stage_activity_idx"),
            # Queue "called in the last hour" exclusion and "contacted today" cards.
            models.Index(fields=["last_call_at"], name="contact_last_call_idx"),
            # Queue zone filter (RED/ORANGE/YELLOW clients) per owner.
            models.Index(fields=["owner", "health_zone"], name="contact_owner_zone_idx"),
            # "Contacted today" per owner, and the queue's oldest-call-first tie-break.
            models.Index(fields=["owner", "last_call_at"], name="contact_owner_last_call_idx"),
            # Pattern-break alerts, longest silent first (a small share of all contacts).
            models.Index(
                fields=["last_call_at"],
                condition=Q(pattern_status="PATTERN_BREAK"),
                name="contact_pattern_break_idx",
            ),
            # Search and dedup by email / phone (replenishment, follow-up search).
            models.Index(fields=["email"], name="contact_email_idx"),
            # Replenishment dedup compares normalised (lower-case) emails.
            models.Index(Lower("email"), name="contact_email_lower_idx"),
            # Admin search by email domain ("@example.com"): equality on the lower-cased domain.
            models.Index(EMAIL_DOMAIN, name="contact_email_domain_idx"),
            models.Index(fields=["phone"], name="contact_phone_idx"),
            models.Index(fields=["mobile"], name="contact_mobile_idx"),
            # "Recently assigned" panels: owner changed in the last 7 days.
            models.Index(fields=["owner_changed_at"], name="contact_owner_changed_idx"),
            # The queue's "recently assigned" panel of one owner, latest first: a walk that stops
            # after its 20 rows.
            models.Index(
                fields=["owner", "-owner_changed_at", "id"],
                condition=Q(is_archived=False),
                name="contact_owner_reassigned_idx",
            ),
            # Revenue at risk and smart actions: clients at or above a predictive-risk threshold
            # (only clients have a risk, so the index holds a fraction of the contacts).
            models.Index(
                fields=["predictive_risk"],
                condition=Q(predictive_risk__isnull=False),
                name="contact_risk_idx",
            ),
            # Incremental HubSpot sync compares modified times.
            models.Index(fields=["hs_updated_at"], name="contact_hs_updated_idx"),
            # Follow-up table sorted by creation ("created", newest or oldest first).
            models.Index(fields=["hs_created_at"], name="contact_hs_created_idx"),
            # Follow-up "overdue task" flag and HIGH priority: open tasks due before now.
            models.Index(fields=["next_task_due_at"], name="contact_next_task_due_idx"),
            # Follow-up "no calls made" / "speed to lead" flags: never-called contacts by age.
            models.Index(
                fields=["hs_created_at"], condition=Q(call_count=0), name="contact_never_called_idx"
            ),
            # Follow-up counts (scoring.figures) and one setter's filtered page: their rows read from
            # this index alone on PostgreSQL (a quarter of the table's size; with the id, a page's
            # ids too).
            models.Index(
                fields=["owner", "last_call_at"],
                include=[
                    "id",
                    "lifecycle_stage",
                    "next_task_due_at",
                    "call_count",
                    "open_deal_amount",
                    "hs_created_at",
                    "created_at",
                    "assigned_coach",
                ],
                condition=Q(
                    is_archived=False, merged_into__isnull=True, lifecycle_stage__in=FOLLOW_UP_STAGES
                ),
                name="contact_follow_up_figures_idx",
            ),
            # (Follow-up search uses trigram indexes on names, email and phones, and its "longest
            # without contact first" order a last-call index with NULLs first: PostgreSQL-only,
            # made by migration 0006. The queue's pattern-break alerts, longest silent first, walk
            # two more with NULLs first, per owner and for everyone: migration 0008.)
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(health_score__isnull=True) | Q(health_score__lte=100),
                name="contact_health_score_0_100",
            ),
            models.CheckConstraint(
                condition=Q(predictive_risk__isnull=True) | Q(predictive_risk__lte=100),
                name="contact_predictive_risk_0_100",
            ),
            models.CheckConstraint(
                condition=Q(answered_call_count__lte=models.F("call_count"))
                & Q(outgoing_call_count__lte=models.F("call_count")),
                name="contact_call_counts_consistent",
            ),
            models.CheckConstraint(
                condition=~Q(merged_into=models.F("id")), name="contact_not_merged_into_itself"
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email or self.phone or f"Contact {self.pk}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_merged(self) -> bool:
        return self.merged_into_id is not None

    @property
    def dialable_phone(self) -> str:
        """The E.164 number to dial or WhatsApp: a valid mobile first, then a valid phone; "" if none."""
        if self.mobile and self.mobile_is_valid:
            return self.mobile
        if self.phone and self.phone_is_valid:
            return self.phone
        return ""

    @property
    def display_phone(self) -> str:
        """What to show: the dialable number, else whatever was typed (flagged invalid)."""
        return self.dialable_phone or self.mobile or self.phone

    @property
    def hubspot_url(self) -> str:
        if not (self.hubspot_id and settings.HUBSPOT_PORTAL_ID):
            return ""
        return f"https://app.hubspot.com/contacts/{settings.HUBSPOT_PORTAL_ID}/record/0-1/{self.hubspot_id}"


class OwnerChangeSource(models.TextChoices):
    SYNC = "sync", "HubSpot sync"
    WEBHOOK = "webhook", "HubSpot webhook"
    MANUAL = "manual", "Manual"
    REPLENISHMENT = "replenishment", "Replenishment"
    ASSIGNMENT = "assignment", "Automatic assignment"


class OwnerChange(models.Model):
    """One change of a contact's owner. Never edited: the history is the audit trail."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="owner_changes")
    from_owner = models.ForeignKey(Owner, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    to_owner = models.ForeignKey(Owner, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField()
    source = models.CharField(max_length=16, choices=OwnerChangeSource.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-changed_at"]
        indexes = [
            # A contact's owner history (follow-up row detail), newest first.
            models.Index(fields=["contact", "-changed_at"], name="ownerchange_contact_idx"),
            # Dashboard "owner changes in the last 30 days".
            models.Index(fields=["changed_at"], name="ownerchange_changed_at_idx"),
        ]
        constraints = [
            # Sync records a change exactly once even when the same history arrives twice.
            models.UniqueConstraint(
                fields=["contact", "changed_at", "to_owner"], name="ownerchange_once_per_change"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact} → {self.to_owner} ({self.changed_at:%Y-%m-%d})"


class Deal(TimeStampedModel):
    hubspot_id = models.CharField(max_length=32, unique=True, null=True, blank=True)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals"
    )
    owner = models.ForeignKey(Owner, null=True, blank=True, on_delete=models.SET_NULL, related_name="deals")
    name = models.CharField(max_length=255)
    pipeline = models.CharField(max_length=64, blank=True)
    pipeline_label = models.CharField(max_length=150, blank=True)
    stage = models.CharField(max_length=64)
    stage_label = models.CharField(max_length=150, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True, help_text="AED")
    close_date = models.DateField(null=True, blank=True)
    is_closed = models.BooleanField(default=False)
    is_won = models.BooleanField(default=False)
    hs_created_at = models.DateTimeField(null=True, blank=True)
    hs_updated_at = models.DateTimeField(null=True, blank=True)
    stage_entered_at = models.DateTimeField(
        null=True, blank=True, help_text="When the deal entered its stage."
    )
    is_archived = models.BooleanField(default=False)

    class Meta:
        indexes = [
            # A contact's deals (follow-up row, "missing deal" flag), newest first.
            models.Index(fields=["contact", "-hs_created_at"], name="deal_contact_idx"),
            # Incremental sync by modified time.
            models.Index(fields=["hs_updated_at"], name="deal_hs_updated_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gte=0), name="deal_amount_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(is_won=False) | Q(is_closed=True), name="deal_won_implies_closed"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TaskStatus(models.TextChoices):
    NOT_STARTED = "NOT_STARTED", "Not started"
    IN_PROGRESS = "IN_PROGRESS", "In progress"
    WAITING = "WAITING", "Waiting"
    COMPLETED = "COMPLETED", "Completed"
    DEFERRED = "DEFERRED", "Deferred"


OPEN_TASK_STATUSES = (TaskStatus.NOT_STARTED, TaskStatus.IN_PROGRESS, TaskStatus.WAITING, TaskStatus.DEFERRED)


class TaskType(models.TextChoices):
    CALL = "CALL", "Call"
    EMAIL = "EMAIL", "Email"
    TODO = "TODO", "To-do"


class Task(TimeStampedModel):
    """A HubSpot task (often a callback): overdue when still open past its due time."""

    hubspot_id = models.CharField(max_length=32, unique=True, null=True, blank=True)
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    owner = models.ForeignKey(Owner, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks")
    subject = models.CharField(max_length=255)
    task_type = models.CharField(max_length=8, choices=TaskType.choices, default=TaskType.TODO)
    due_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.NOT_STARTED)
    completed_at = models.DateTimeField(null=True, blank=True)
    hs_updated_at = models.DateTimeField(null=True, blank=True)
    is_archived = models.BooleanField(default=False)

    class Meta:
        indexes = [
            # "Overdue task" flag per contact: open tasks due before now.
            models.Index(fields=["contact", "status", "due_at"], name="task_contact_open_due_idx"),
            # Accountability panel: overdue tasks per owner.
            models.Index(fields=["owner", "status", "due_at"], name="task_owner_open_due_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status=TaskStatus.COMPLETED) | Q(completed_at__isnull=True),
                name="task_completed_at_only_when_completed",
            ),
        ]

    def __str__(self) -> str:
        return self.subject


class HealthScore(models.Model):
    """A client's health as computed at one moment. Rows are history; the newest is copied onto
    the contact (leads.services.health_score_record) so a drop can be seen and the current zone
    read without a subquery."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="health_scores")
    score = models.PositiveSmallIntegerField()
    zone = models.CharField(max_length=8, choices=Zone.choices)
    predictive_risk = models.PositiveSmallIntegerField(default=0)
    package_value = models.DecimalField(max_digits=12, decimal_places=2, default=0, help_text="AED")
    sessions_left = models.PositiveSmallIntegerField(null=True, blank=True)
    package_end_date = models.DateField(null=True, blank=True)
    days_since_last_session = models.PositiveSmallIntegerField(null=True, blank=True)
    pattern_status = models.CharField(max_length=16, choices=PatternStatus.choices, blank=True)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-computed_at"]
        get_latest_by = "computed_at"
        indexes = [
            # A contact's history, newest first ("health dropped since owner change").
            models.Index(fields=["contact", "-computed_at"], name="health_contact_time_idx"),
            # Revenue-at-risk trend: scores computed in a date range.
            models.Index(fields=["computed_at"], name="health_computed_at_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(score__lte=100), name="health_score_0_100"),
            models.CheckConstraint(condition=Q(predictive_risk__lte=100), name="health_risk_0_100"),
            models.CheckConstraint(
                condition=Q(package_value__gte=0), name="health_package_value_not_negative"
            ),
            models.UniqueConstraint(fields=["contact", "computed_at"], name="health_one_per_contact_moment"),
        ]

    def __str__(self) -> str:
        return f"{self.contact} {self.score} {self.zone} @ {self.computed_at:%Y-%m-%d}"


class AssignmentRotation(models.Model):
    """The rotation's virtual clock (one row): the start of the last lead handed out.

    An owner who comes back from time away, or whose 24-hour quota was full, restarts at this
    clock rather than at their own stale position, so they rejoin at their fair rate with no
    catch-up burst. Locking this row also serialises concurrent assignments.
    """

    key = models.CharField(max_length=16, primary_key=True, default="default")
    virtual_time = models.FloatField(default=0)

    def __str__(self) -> str:
        return f"Assignment rotation at {self.virtual_time:.3f}"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ReassignmentJob(models.Model):
    """A large reassignment running on the workers, with its progress (leads.reassignment).

    The selection is frozen here when the manager starts it; the job moves it batch by batch, and
    each batch commits together with `done`, so a retried job continues after the last batch that
    committed and never moves a contact twice. A worker holds the job by a lease it renews with
    every batch (`locked_until`); one killed mid-batch leaves its lease to run out, and the next
    worker resumes the job and counts a retry.
    """

    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_owner = models.ForeignKey(Owner, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(
        max_length=16, choices=OwnerChangeSource.choices, default=OwnerChangeSource.MANUAL
    )
    note = models.CharField(max_length=255, blank=True)
    contact_ids = models.JSONField(default=list, help_text="The selection, in the order it is worked.")
    batch_size = models.PositiveIntegerField()
    total = models.PositiveIntegerField()
    done = models.PositiveIntegerField(default=0, help_text="Contacts of the selection handled so far.")
    moved = models.PositiveIntegerField(default=0, help_text="Of those, how many changed owner.")
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    retries = models.PositiveSmallIntegerField(default=0, help_text="Times a worker died holding it.")
    retried_from = models.PositiveIntegerField(
        null=True, blank=True, help_text="`done` when the last retry began: that batch is being retried."
    )
    error = models.TextField(blank=True)
    locked_by = models.CharField(max_length=100, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The follow-up page: the manager's latest reassignments.
            models.Index(fields=["created_by", "-created_at"], name="reassignjob_by_user_idx"),
            # The sweeper: unfinished jobs whose worker may have died.
            models.Index(
                fields=["locked_until"],
                condition=Q(status__in=["queued", "running"]),
                name="reassignjob_open_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(done__lte=F("total")), name="reassignjob_done_within_total"),
            models.CheckConstraint(condition=Q(moved__lte=F("done")), name="reassignjob_moved_within_done"),
        ]

    def __str__(self) -> str:
        return f"Reassignment {self.pk}: {self.done} of {self.total} ({self.get_status_display()})"
