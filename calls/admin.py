"""Admin for calls (two million rows), calls scheduled in HubSpot, interventions and queue state.

Calls are added through `calls.services.call_log` and never edited, so the contact's call facts
always agree with the call records (see calls.models).
"""

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from calls.models import CallRecord, Intervention, QueueState, ScheduledCall
from calls.services import call_log, contact_facts_rebuild
from leads.admin import ContactSearchMixin, LargeTableAdmin


@admin.register(CallRecord)
class CallRecordAdmin(ContactSearchMixin, LargeTableAdmin):
    list_display = (
        "started_at",
        "contact",
        "owner",
        "direction",
        "channel",
        "status",
        "outcome",
        "duration_seconds",
        "source",
    )
    list_filter = ("status", "outcome", "channel", "direction", "source", "owner")
    list_select_related = ("contact", "owner")
    date_hierarchy = "started_at"
    autocomplete_fields = ("contact", "owner")
    fields = (
        "contact",
        "owner",
        ("direction", "channel"),
        ("status", "outcome"),
        "started_at",
        "duration_seconds",
        "notes",
        ("source", "external_id"),
        "created_at",
    )
    readonly_fields = ("source", "external_id", "created_at")

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # A stored call feeds its contact's counts and "last call" excerpt; changing it here
        # would leave them wrong. The change page shows it read-only.
        return False

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        return {"started_at": timezone.now(), **super().get_changeform_initial_data(request)}

    def save_model(self, request: HttpRequest, obj: CallRecord, form, change: bool) -> None:
        # Only additions get here (no change permission); the service also updates the contact.
        call = call_log(
            contact=obj.contact,
            owner=obj.owner,
            status=obj.status,
            outcome=obj.outcome,
            note=obj.notes,
            channel=obj.channel,
            direction=obj.direction,
            started_at=obj.started_at,
            duration_seconds=obj.duration_seconds,
        )
        # The admin goes on with `obj` (history entry, redirect): point it at the stored row.
        obj.pk, obj.created_at = call.pk, call.created_at

    def delete_model(self, request: HttpRequest, obj: CallRecord) -> None:
        super().delete_model(request, obj)
        # Recount from the remaining calls (the deleted one may have been the last call).
        contact_facts_rebuild(contact_ids=[obj.contact_id])


@admin.register(Intervention)
class InterventionAdmin(ContactSearchMixin, LargeTableAdmin):
    list_display = (
        "created_at",
        "contact",
        "intervention_type",
        "zone_at_creation",
        "status",
        "outcome",
        "owner",
        "created_by",
        "completed_at",
    )
    list_filter = ("intervention_type", "status", "outcome", "zone_at_creation", "owner")
    list_select_related = ("contact", "owner", "created_by")
    autocomplete_fields = ("contact", "owner")
    readonly_fields = ("created_by",)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        return {"created_at": timezone.now(), **super().get_changeform_initial_data(request)}

    def save_model(self, request: HttpRequest, obj: Intervention, form, change: bool) -> None:
        if not change:
            # A person planned it; interventions without a creator are the system's.
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(QueueState)
class QueueStateAdmin(ContactSearchMixin, LargeTableAdmin):
    list_display = ("contact", "snoozed_until", "snooze_reason", "last_shown_at", "updated_at")
    list_filter = ("snoozed_until", "last_shown_at")
    list_select_related = ("contact",)
    autocomplete_fields = ("contact",)
    readonly_fields = ("updated_at",)


@admin.register(ScheduledCall)
class ScheduledCallAdmin(ContactSearchMixin, LargeTableAdmin):
    """Calls HubSpot has QUEUED: read-only here, the sync keeps them (and turns each into a call
    record once HubSpot reports it happened)."""

    list_display = ("scheduled_for", "contact", "owner", "direction", "hubspot_id")
    list_filter = ("direction", "owner")
    list_select_related = ("contact", "owner")
    date_hierarchy = "scheduled_for"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
