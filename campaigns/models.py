"""Lead replenishment (SPEC S9): its configuration, lead sources, staged source rows, runs and lock.

Campaign models (S6) join this app in their own issue.

How a lead file becomes contacts, safely:
1. A source (an uploaded file kept in the database, or a path read at each run) is parsed into
   SourceLead rows: one per row of the file, good or bad, with its line number. Nothing is a
   contact yet.
2. A run picks PENDING rows, skips duplicates, creates contacts and marks each row it used
   CREATED (with the contact and the run) or DUPLICATE (with what it matched) in the same
   transaction as the contacts. A crash rolls all of it back: no half-created lead, and the rows
   are still PENDING for the next run, which therefore cannot upload a lead twice.
"""

from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q

from leads.models import Tier

TIERS = (Tier.A_PLUS, Tier.A, Tier.B)
PERCENT = [MaxValueValidator(100)]


class ReplenishmentConfig(models.Model):
    """The one replenishment configuration (row 1), edited in the admin; defaults from SPEC S9.

    `manage.py replenish --config FILE` runs with a JSON file's values instead, without saving them.
    """

    is_enabled = models.BooleanField(default=True, help_text="Off: scheduled runs only report, never upload.")
    min_total_leads = models.PositiveIntegerField(
        default=50, help_text="Replenish when fewer leads are available."
    )
    target_total_leads = models.PositiveIntegerField(default=150, help_text="Fill up to this many.")
    min_a_plus_leads = models.PositiveIntegerField("minimum A+ leads", default=10)
    min_a_leads = models.PositiveIntegerField("minimum A leads", default=30)
    min_b_leads = models.PositiveIntegerField("minimum B leads", default=20)
    max_per_run = models.PositiveIntegerField(default=100, help_text="Most contacts one run creates.")
    max_per_day = models.PositiveIntegerField(
        default=500, help_text="Most contacts created per business day."
    )
    cooldown_minutes = models.PositiveIntegerField(default=60, help_text="Least time between two uploads.")
    mix_a_plus = models.PositiveSmallIntegerField("mix A+ %", default=20, validators=PERCENT)
    mix_a = models.PositiveSmallIntegerField("mix A %", default=50, validators=PERCENT)
    mix_b = models.PositiveSmallIntegerField("mix B %", default=30, validators=PERCENT)
    a_plus_high_conversion_percent = models.PositiveSmallIntegerField(
        "A+ converts well at %",
        default=25,
        validators=PERCENT,
        help_text="When A+ leads of the last 30 days convert at least this well, the mix shifts toward A+.",
    )
    a_plus_shift_points = models.PositiveSmallIntegerField(
        "A+ shift (points)",
        default=10,
        validators=PERCENT,
        help_text="Percentage points moved to A+ from A and B (in proportion) when A+ converts well.",
    )
    conversion_min_leads = models.PositiveIntegerField(
        default=10, help_text="A+ leads needed in 30 days before their conversion rate is trusted."
    )
    tier_a_plus_min_score = models.PositiveSmallIntegerField(
        "A+ from score",
        default=80,
        validators=PERCENT,
        help_text="A row with a score but no tier is A+ from here.",
    )
    tier_a_min_score = models.PositiveSmallIntegerField(
        "A from score", default=60, validators=PERCENT, help_text="...A from here, B below."
    )
    business_hours_start = models.TimeField(null=True, blank=True, help_text="Optional: upload only from...")
    business_hours_end = models.TimeField(null=True, blank=True, help_text="...until (business time zone).")
    business_weekdays = models.CharField(
        max_length=13, default="1,2,3,4,5,6,7", help_text="ISO weekdays uploads may run (1 = Monday)."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "replenishment configuration"
        verbose_name_plural = "replenishment configuration"
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="replenishment_config_single_row"),
            models.CheckConstraint(
                condition=Q(target_total_leads__gte=F("min_total_leads")),
                name="replenishment_target_not_below_minimum",
            ),
            models.CheckConstraint(
                condition=Q(mix_a_plus=100 - F("mix_a") - F("mix_b")), name="replenishment_mix_sums_to_100"
            ),
        ]

    def __str__(self) -> str:
        return "Replenishment configuration"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.target_total_leads < self.min_total_leads:
            errors["target_total_leads"] = (
                f"The target ({self.target_total_leads}) is below the minimum ({self.min_total_leads})."
            )
        tier_minimums = self.min_a_plus_leads + self.min_a_leads + self.min_b_leads
        if tier_minimums > self.target_total_leads and "target_total_leads" not in errors:
            errors["target_total_leads"] = (
                f"The target ({self.target_total_leads}) is below the tier minimums "
                f"together ({tier_minimums})."
            )
        if self.mix_a_plus + self.mix_a + self.mix_b != 100:
            errors["mix_b"] = (
                f"The mix must add up to 100% (it adds up to {self.mix_a_plus + self.mix_a + self.mix_b}%)."
            )
        if self.max_per_run > self.max_per_day:
            errors["max_per_run"] = (
                f"At most per run ({self.max_per_run}) is above at most per day ({self.max_per_day})."
            )
        if self.max_per_run == 0:
            errors["max_per_run"] = "At most per run must be at least 1."
        if self.tier_a_min_score > self.tier_a_plus_min_score:
            errors["tier_a_min_score"] = "The A score must not be above the A+ score."
        if (self.business_hours_start is None) != (self.business_hours_end is None):
            errors["business_hours_end"] = "Give both ends of the business hours, or neither."
        elif self.business_hours_start and self.business_hours_start >= self.business_hours_end:
            errors["business_hours_end"] = "Business hours must end after they start."
        try:
            self.weekdays()
        except ValueError as error:
            errors["business_weekdays"] = str(error)
        if errors:
            raise ValidationError(errors)

    def tier_minimums(self) -> dict[str, int]:
        return {Tier.A_PLUS: self.min_a_plus_leads, Tier.A: self.min_a_leads, Tier.B: self.min_b_leads}

    def mix(self) -> dict[str, int]:
        return {Tier.A_PLUS: self.mix_a_plus, Tier.A: self.mix_a, Tier.B: self.mix_b}

    def weekdays(self) -> set[int]:
        days = set()
        for part in self.business_weekdays.split(","):
            if not part.strip().isdigit() or not 1 <= int(part) <= 7:
                raise ValueError(f"{self.business_weekdays!r}: list ISO weekdays 1-7, e.g. 1,2,3,4,5.")
            days.add(int(part))
        return days

    def has_business_hours(self) -> bool:
        return self.business_hours_start is not None and self.business_hours_end is not None

    def business_hours_label(self) -> str:
        if not self.has_business_hours():
            return "any time"
        start: time = self.business_hours_start
        end: time = self.business_hours_end
        return f"{start:%H:%M}-{end:%H:%M}"


class SourceKind(models.TextChoices):
    UPLOAD = "upload", "Uploaded file"
    PATH = "path", "File path (re-read each run)"


class ReplenishmentSource(models.Model):
    """A file of leads: uploaded (its text kept here, so every worker reads the same) or a path."""

    name = models.CharField(max_length=150)
    kind = models.CharField(max_length=8, choices=SourceKind.choices)
    file_name = models.CharField(max_length=255, help_text="The uploaded file's name (.json or .csv).")
    path = models.CharField(
        max_length=500, blank=True, help_text="For a path source: the file on the server."
    )
    content = models.TextField(blank=True, editable=False)
    content_sha256 = models.CharField(max_length=64, blank=True, editable=False)
    default_lead_source = models.CharField(
        max_length=100,
        blank=True,
        help_text="Lead source for rows that name none (default: the source's name).",
    )
    is_active = models.BooleanField(default=True, help_text="Off: its rows are not used.")
    row_count = models.PositiveIntegerField(default=0, editable=False)
    bad_row_count = models.PositiveIntegerField(default=0, editable=False)
    last_read_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["path"], condition=Q(kind="path"), name="replenishment_source_path_once"
            ),
            models.CheckConstraint(
                condition=Q(kind="upload") | ~Q(path=""), name="replenishment_path_source_has_path"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class SourceLeadStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    CREATED = "created", "Created"
    DUPLICATE = "duplicate", "Duplicate"
    INVALID = "invalid", "Bad row"


class SourceLead(models.Model):
    """One row of a source file, staged. Its status says what became of it; nothing is re-used."""

    source = models.ForeignKey(ReplenishmentSource, on_delete=models.CASCADE, related_name="leads")
    line = models.PositiveIntegerField()
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.CharField(max_length=254, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    city = models.CharField(max_length=100, blank=True)
    lead_source = models.CharField(max_length=100, blank=True)
    tier = models.CharField(max_length=2, choices=Tier.choices, blank=True)
    score = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    email_key = models.CharField(max_length=254, blank=True)
    phone_key = models.CharField(max_length=40, blank=True)
    row_hash = models.CharField(max_length=64)
    raw = models.TextField(blank=True, help_text="The row as read, for bad rows.")
    status = models.CharField(
        max_length=10, choices=SourceLeadStatus.choices, default=SourceLeadStatus.PENDING
    )
    detail = models.CharField(
        max_length=255, blank=True, help_text="Why it is a bad row, or what it duplicates."
    )
    contact = models.ForeignKey(
        "leads.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="source_leads"
    )
    run = models.ForeignKey(
        "ReplenishmentRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="source_leads"
    )
    staged_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["source", "line"]
        indexes = [
            # Each run's candidates: the rows still waiting.
            models.Index(fields=["source"], condition=Q(status="pending"), name="sourcelead_pending_idx"),
            # Duplicates against earlier uploads, by normalised email and phone.
            models.Index(fields=["email_key"], condition=~Q(email_key=""), name="sourcelead_email_key_idx"),
            models.Index(fields=["phone_key"], condition=~Q(phone_key=""), name="sourcelead_phone_key_idx"),
        ]
        constraints = [
            # A path source re-read after rows were appended stages only the new rows.
            models.UniqueConstraint(fields=["source", "line", "row_hash"], name="sourcelead_row_once"),
            models.CheckConstraint(
                condition=Q(contact__isnull=True) | Q(status="created"),
                name="sourcelead_contact_only_when_created",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} line {self.line}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class RunTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    COMMAND = "command", "Command"
    ADMIN = "admin", "Admin"
    PAGE = "page", "Replenishment page"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    UPLOADED = "uploaded", "Uploaded"
    NOT_NEEDED = "not_needed", "Not needed"
    BLOCKED = "blocked", "Blocked"
    NOTHING_NEW = "nothing_new", "No new leads"
    SKIPPED = "skipped", "Skipped"  # another run held the lock: this one did nothing
    FAILED = "failed", "Failed"


class ReplenishmentRun(models.Model):
    """The audit entry of one run: why, how many per tier, what happened, who got what."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=10, choices=RunTrigger.choices)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.RUNNING)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last sign of life of a running run (it renews the lock's lease)."
    )
    summary = models.CharField(max_length=255, blank=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="Inventory and conversion when it ran.")
    reasons = models.JSONField(default=list, blank=True)
    targets = models.JSONField(default=dict, blank=True)
    found = models.PositiveIntegerField(default=0, help_text="Rows waiting in active sources.")
    selected = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    error_details = models.JSONField(default=list, blank=True)
    assigned = models.JSONField(default=dict, blank=True, help_text="Owner -> leads given by this run.")
    carried_over = models.PositiveIntegerField(default=0, help_text="Leads left waiting for room.")
    steps = models.JSONField(default=list, blank=True, help_text="The run's output, one line per step.")

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            # Cooldown and the daily cap: the latest runs that uploaded.
            models.Index(fields=["started_at"], condition=Q(created__gt=0), name="replenishrun_uploads_idx"),
        ]

    def __str__(self) -> str:
        return f"Run {self.pk} {self.started_at:%Y-%m-%d %H:%M} {self.get_status_display()}"


class ReplenishmentLease(models.Model):
    """Who holds the replenishment lock, until when.

    A row with an expiry rather than the cache (the local-memory cache is per process, so two
    processes would both "hold" it) or a PostgreSQL advisory lock (none on SQLite): taking it is
    one conditional UPDATE, which both databases make atomic. The holder renews the lease at
    every step (a heartbeat), so the lease can be short (JOB_LEASE_SECONDS): a worker killed
    mid-run blocks runs for one lease at most, and ops can see in the admin who holds it.
    """

    name = models.CharField(max_length=32, primary_key=True)
    holder = models.CharField(max_length=100, blank=True)
    acquired_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder or 'nobody'} until {self.expires_at:%H:%M:%S}"
