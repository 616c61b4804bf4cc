"""The call-queue priority factors (SPEC S2): one row per factor, edited by ops in the admin.

What a factor *means* (its condition over a contact) is code in `scoring.factors`, keyed by
`key`; how much it *weighs*, its threshold and the words of its reason are data here.
"""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class PriorityFactor(models.Model):
    key = models.SlugField(max_length=40, unique=True, help_text="Which condition this row weighs (fixed).")
    label = models.CharField(max_length=100)
    weight = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        validators=[MinValueValidator(Decimal(-10)), MaxValueValidator(Decimal(10))],
        help_text="Points added to the priority when the condition holds.",
    )
    threshold = models.DecimalField(
        max_digits=10,
        decimal_places=1,
        null=True,
        blank=True,
        help_text="The factor's number: days, hours, risk or AED, as its label says.",
    )
    reason = models.CharField(
        max_length=120,
        blank=True,
        help_text="Shown to the setter; may use {days}, {zone}, {risk}, {age}, {owner_changed}, "
        "{package_days}, {amount}, {follow_up}. Empty: not shown.",
    )
    is_enabled = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0, help_text="Order of reasons in the queue.")

    class Meta:
        ordering = ["position", "key"]

    def __str__(self) -> str:
        return f"{self.label} ({self.weight:+})"


class SnapshotSource(models.TextChoices):
    LIVE = "live", "Taken that day"
    BACKFILL = "backfill", "Rebuilt from health-score history"


class RevenueAtRiskSnapshot(models.Model):
    """Revenue at risk as it stood on one business day, for the dashboard's 7- and 30-day
    trends. One row per day: the daily job overwrites today's row, and fills days it missed
    from the health-score history (scoring.snapshots)."""

    day = models.DateField(unique=True, help_text="Business day (settings.TIME_ZONE).")
    revenue_at_risk = models.DecimalField(max_digits=14, decimal_places=2, help_text="AED")
    clients_at_risk = models.PositiveIntegerField()
    min_risk = models.PositiveSmallIntegerField(help_text="The risk threshold the figure used.")
    source = models.CharField(max_length=8, choices=SnapshotSource.choices)
    taken_at = models.DateTimeField()

    class Meta:
        ordering = ["-day"]
        get_latest_by = "day"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(revenue_at_risk__gte=0), name="snapshot_revenue_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day}: AED {self.revenue_at_risk:,.0f} at risk"


class FollowUpFigures(models.Model):
    """One owner's counts for the follow-up page's summary cards and setter panel (SPEC S3), kept
    here so a request reads 41 rows instead of counting 200,000 contacts (scoring.figures).

    A row holds from `computed_at` until `valid_until`: the next moment time alone would change a
    count (business midnight, or the owner's next task coming due). Any write to the owner's
    contacts bumps `version` and clears `valid_until`, so a row is trusted only inside its window
    and only when nothing changed since it was counted."""

    owner_key = models.PositiveIntegerField(
        primary_key=True, help_text="The owner's id; 0 for the contacts nobody owns."
    )
    leads = models.PositiveIntegerField(default=0)
    high = models.PositiveIntegerField(default=0)
    medium = models.PositiveIntegerField(default=0)
    going_cold = models.PositiveIntegerField(default=0)
    missing_coach = models.PositiveIntegerField(default=0)
    overdue = models.PositiveIntegerField(default=0)
    called_today = models.PositiveIntegerField(default=0)
    version = models.PositiveBigIntegerField(default=0, help_text="Bumped by every write to these contacts.")
    computed_at = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True, help_text="Empty: count again on next read.")

    class Meta:
        verbose_name_plural = "follow-up figures"

    def __str__(self) -> str:
        return f"Follow-up figures of owner {self.owner_key or 'nobody'}"

    def holds_at(self, moment) -> bool:
        return (
            self.valid_until is not None
            and self.computed_at is not None
            and self.computed_at <= moment < self.valid_until
        )
