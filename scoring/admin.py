from django.contrib import admin
from django.http import HttpRequest

from scoring.models import PriorityFactor, RevenueAtRiskSnapshot
from scoring.services import queue_scores_refresh


@admin.register(PriorityFactor)
class PriorityFactorAdmin(admin.ModelAdmin):
    """Ops tune the queue here: weights, thresholds, reason words, on/off. What a factor means is
    code (scoring.factors), so rows are neither added nor deleted, only switched off."""

    list_display = ("label", "key", "weight", "threshold", "reason", "is_enabled", "position")
    list_filter = ("is_enabled",)
    readonly_fields = ("key",)
    fields = ("key", "label", "weight", "threshold", "reason", "is_enabled", "position")
    ordering = ("position", "key")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: PriorityFactor, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # Every stored queue score used the old weight: re-score now (one set-based UPDATE,
        # about two seconds at 200,000 contacts) so the queue follows at once.
        changed = queue_scores_refresh()
        self.message_user(request, f"Queue re-scored: {changed:,} contacts changed priority.")


@admin.register(RevenueAtRiskSnapshot)
class RevenueAtRiskSnapshotAdmin(admin.ModelAdmin):
    """The daily figures behind the dashboard's trends, read-only: the job writes them."""

    list_display = ("day", "revenue_at_risk", "clients_at_risk", "min_risk", "source", "taken_at")
    list_filter = ("source",)
    date_hierarchy = "day"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
