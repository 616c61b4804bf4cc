"""Ops' view of the HubSpot sync: every run with its counts and error, a "sync now" action and
button, the cursors (rewindable by hand) with their locks (releasable), the records parked until
their contact can be found, and the webhook events received."""

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.text import Truncator
from django.views.decorators.http import require_POST

from crm.workers import worker_listening
from hubspot_sync.models import ParkedRecord, SyncCursor, SyncRun, WebhookEvent
from hubspot_sync.services import sync_lock_release
from hubspot_sync.tasks import sync_task
from leads.admin import LargeTableAdmin


def _enqueue(request: HttpRequest, *, object_types: list[str] | None, full: bool) -> None:
    # A queued sync that nothing will run is worse than none: it promises a run that never comes.
    if not settings.HUBSPOT_ENABLED:
        messages.warning(
            request,
            "HubSpot is switched off (HUBSPOT_ENABLED is not true): nothing was queued. Set "
            "HUBSPOT_ENABLED=true and HUBSPOT_ACCESS_TOKEN for the web and worker processes first.",
        )
        return
    if not worker_listening():
        messages.warning(
            request,
            "No Celery worker answered, so nothing was queued: start one (make worker, or "
            "celery -A crm worker) and try again, or run python manage.py hubspot_sync on the server.",
        )
        return
    try:
        sync_task.delay(object_types=object_types, full=full)
    except Exception as exc:  # the broker is down: say so instead of a 500
        messages.error(request, f"Could not queue the sync (is the Celery broker up?): {exc}")
        return
    what = ", ".join(object_types) if object_types else "everything"
    messages.success(
        request, f"{'Full' if full else 'Incremental'} sync of {what} queued; refresh to see its run."
    )


@admin.register(SyncRun)
class SyncRunAdmin(LargeTableAdmin):
    list_display = (
        "started_at",
        "object_type",
        "mode",
        "status",
        "duration",
        "pages",
        *SyncRun.RECORD_COUNTS,
        "failed",
        "requests",
        "retries",
        "rate_limited",
        "error_excerpt",
    )
    list_filter = ("object_type", "mode", "status")
    date_hierarchy = "started_at"
    actions = ["sync_now", "full_sync_now"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs are recorded by the sync; "sync now" starts one

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_sync_permission(self, request: HttpRequest) -> bool:
        # Starting a sync is an ops decision (managers may read runs).
        return request.user.has_perm("hubspot_sync.add_syncrun")

    @admin.display(description="Duration")
    def duration(self, run: SyncRun) -> str:
        seconds = run.duration_seconds
        if seconds is not None:
            return f"{seconds:.1f}s"
        return f"running ({_ago(run.heartbeat_at)})"

    @admin.display(description="Error")
    def error_excerpt(self, run: SyncRun) -> str:
        return Truncator(run.last_error).chars(80)

    @admin.action(description="Sync these object types now (incremental)", permissions=["sync"])
    def sync_now(self, request: HttpRequest, queryset: QuerySet[SyncRun]) -> None:
        _enqueue(
            request, object_types=sorted(set(queryset.values_list("object_type", flat=True))), full=False
        )

    @admin.action(description="Full sync of these object types now", permissions=["sync"])
    def full_sync_now(self, request: HttpRequest, queryset: QuerySet[SyncRun]) -> None:
        _enqueue(request, object_types=sorted(set(queryset.values_list("object_type", flat=True))), full=True)

    def get_urls(self):
        sync_all = self.admin_site.admin_view(require_POST(self.sync_all_view))
        return [path("sync-now/", sync_all, name="hubspot_sync_syncrun_sync_now"), *super().get_urls()]

    def sync_all_view(self, request: HttpRequest) -> HttpResponseRedirect:
        if not self.has_sync_permission(request):
            raise PermissionDenied
        _enqueue(request, object_types=None, full=request.POST.get("full") == "1")
        return HttpResponseRedirect(reverse("admin:hubspot_sync_syncrun_changelist"))

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {**(extra_context or {}), "can_sync": self.has_sync_permission(request)}
        return super().changelist_view(request, extra_context)


def _ago(moment) -> str:
    if moment is None:
        return "no heartbeat yet"
    return f"last heartbeat {(timezone.now() - moment).total_seconds():.0f} s ago"


@admin.register(SyncCursor)
class SyncCursorAdmin(admin.ModelAdmin):
    list_display = (
        "object_type",
        "modified_after",
        "last_full_at",
        "full_started_at",
        "lock",
        "updated_at",
    )
    fields = (
        "object_type",
        "modified_after",
        "last_full_at",
        ("full_started_at", "full_after", "full_archived_phase"),
        ("locked_until", "locked_by", "locked_run", "heartbeat_at"),
        "updated_at",
    )
    actions = ["release_lock"]
    # Ops may rewind `modified_after` to re-read a period; the rest is the sync's own bookkeeping.
    readonly_fields = (
        "object_type",
        "last_full_at",
        "full_started_at",
        "full_after",
        "full_archived_phase",
        "locked_until",
        "locked_by",
        "locked_run",
        "heartbeat_at",
        "updated_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="Lock")
    def lock(self, cursor: SyncCursor) -> str:
        if not cursor.locked_by:
            return "free"
        if cursor.locked_until and cursor.locked_until < timezone.now():
            return f"expired: its holder stopped ({_ago(cursor.heartbeat_at)})"
        return f"held by {cursor.locked_by} ({_ago(cursor.heartbeat_at)})"

    def has_release_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("hubspot_sync.add_syncrun")  # ops, as starting a sync

    @admin.action(description="Release the lock of these object types", permissions=["release"])
    def release_lock(self, request: HttpRequest, queryset: QuerySet[SyncCursor]) -> None:
        # A live holder stops at its next heartbeat, before storing another page.
        released = [c.object_type for c in queryset if sync_lock_release(object_type=c.object_type)]
        if released:
            messages.success(
                request,
                f"Released the lock of {', '.join(released)}. A sync still running stops at its next "
                "heartbeat; the next run marks a dead one failed and resumes from the saved cursor.",
            )
        else:
            messages.info(request, "None of these object types was locked.")


@admin.register(ParkedRecord)
class ParkedRecordAdmin(admin.ModelAdmin):
    """Records the sync could not store yet. Each run of their type reads them again; ops may
    retry now, or discard (delete) one they know will never find its contact."""

    list_display = ("object_type", "hubspot_id", "reason", "parked_at", "last_tried_at", "attempts")
    list_filter = ("object_type",)
    search_fields = ("=hubspot_id",)
    readonly_fields = (
        "object_type",
        "hubspot_id",
        "reason",
        "payload",
        "parked_at",
        "last_tried_at",
        "attempts",
    )
    actions = ["retry_now"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("hubspot_sync.add_syncrun")

    @admin.action(description="Retry these now (an incremental sync of their types)", permissions=["retry"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet[ParkedRecord]) -> None:
        _enqueue(
            request, object_types=sorted(set(queryset.values_list("object_type", flat=True))), full=False
        )


@admin.register(WebhookEvent)
class WebhookEventAdmin(LargeTableAdmin):
    list_display = (
        "occurred_at",
        "subscription_type",
        "object_type",
        "object_id",
        "property_name",
        "received_at",
        "processed_at",
        "error",
    )
    list_filter = ("object_type", "subscription_type", ("processed_at", admin.EmptyFieldListFilter))
    search_fields = ("=object_id",)
    date_hierarchy = "occurred_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
