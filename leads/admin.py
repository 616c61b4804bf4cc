"""Admin for owners, contacts and their HubSpot records, sized for 200,000 contacts.

The rules every big changelist here follows (LargeTableAdmin): no COUNT(*) of the whole table,
no <select> listing every contact (autocomplete instead), filters that list choices without
scanning rows, and no bulk delete. Fields that services maintain (call facts, health, phone
validity, owner history) are read-only: editing them by hand would contradict their source rows.
"""

import re

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.template.defaultfilters import pluralize
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from calls.services import CONTACT_FACT_FIELDS as DERIVED_FACT_FIELDS
from crm import timeutils
from leads.assignment import contacts_assign
from leads.models import EMAIL_DOMAIN, Contact, Deal, HealthScore, Owner, OwnerChange, OwnerChangeSource, Task
from leads.phones import phone_search_condition
from leads.services import contact_set_phones, contacts_reassign, contacts_reassign_now_or_queued
from scoring.figures import follow_up_figures_forget
from scoring.services import queue_scores_refresh


class EstimatedCountPaginator(Paginator):
    """Counts exactly, except the unfiltered table on PostgreSQL, where it takes the planner's
    row estimate: COUNT(*) over two million call records costs more than the page itself, and
    the admin counts on every changelist and autocomplete request."""

    # Below this many rows the exact count is cheap, and a stale estimate would show.
    estimate_above = 50_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        connection = connections[queryset.db]
        if connection.vendor != "postgresql" or queryset.query.where:
            return super().count
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [connection.ops.quote_name(queryset.model._meta.db_table)],
            )
            row = cursor.fetchone()
        # reltuples is -1 until the table's first ANALYZE.
        estimate = row[0] if row else -1
        return estimate if estimate >= self.estimate_above else super().count


class LargeTableAdmin(admin.ModelAdmin):
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        # Its confirmation page lists every row the delete would cascade to; with "select all"
        # that is millions of rows. Single deletes from the change page still work.
        actions.pop("delete_selected", None)
        return actions


class ReadOnlyAdmin(LargeTableAdmin):
    """History written only by services (owner changes, health scores): viewable, never edited."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ContactSearchMixin:
    """Search rows by their contact's name, email, phone or HubSpot id (ContactAdmin's rules).

    Matching contacts first and then filtering on the indexed contact_id keeps search fast over
    millions of rows; joining every row to its contact to test the term would not.
    """

    # What the search matches; shows the search box. get_search_results does the matching.
    search_fields = ("contact__first_name", "contact__last_name", "contact__email", "contact__phone")
    search_help_text = "Contact name, email, phone or HubSpot id."
    # The changelist runs its queryset up to four times (count, rows, date hierarchy), and
    # matching contacts is a scan of the contact table: match once when the hits are few.
    contact_ids_inline_max = 500

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        if not search_term.strip():
            return queryset, False
        contact_admin = self.admin_site.get_model_admin(Contact)
        contacts, _ = contact_admin.get_search_results(request, Contact.objects.all(), search_term)
        contact_ids = list(contacts.values_list("pk", flat=True)[: self.contact_ids_inline_max + 1])
        if len(contact_ids) > self.contact_ids_inline_max:
            return queryset.filter(contact__in=contacts.values("pk")), False
        return queryset.filter(contact__in=contact_ids), False


# --- Owners -------------------------------------------------------------------------------


@admin.register(Owner)
class OwnerAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "email",
        "team",
        "is_active",
        "daily_call_capacity",
        "away_until",
        "weekly_booking_target",
        "user",
        "contact_total",
    )
    list_filter = ("is_active", "team")
    list_select_related = ("user",)
    search_fields = ("first_name", "last_name", "email", "=hubspot_id")
    autocomplete_fields = ("user",)
    readonly_fields = ("created_at", "updated_at")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Owner]:
        # A correlated count per owner is an index-only scan: ~20 ms for 40 owners over 200,000
        # contacts, where Count("contacts") would join and group every contact (~250 ms).
        contacts = (
            Contact.objects.filter(owner=OuterRef("pk"))
            .order_by()
            .values("owner")
            .annotate(n=Count("*"))
            .values("n")
        )
        return super().get_queryset(request).annotate(contact_total=Coalesce(Subquery(contacts), 0))

    # A deleted owner's contacts become nobody's: the unowned follow-up figures change.
    def delete_model(self, request: HttpRequest, obj: Owner) -> None:
        super().delete_model(request, obj)
        follow_up_figures_forget([None])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Owner]) -> None:
        super().delete_queryset(request, queryset)
        follow_up_figures_forget([None])

    @admin.display(description="Contacts", ordering="contact_total")
    def contact_total(self, owner: Owner):
        url = reverse("admin:leads_contact_changelist")
        return format_html('<a href="{}?owner__id__exact={}">{}</a>', url, owner.pk, owner.contact_total)


# --- Contacts -----------------------------------------------------------------------------

# Maintained by services, never typed: the facts rebuilt by `manage.py rebuild_contact_facts`
# and the current health copied from the newest HealthScore.
CONTACT_FACT_FIELDS = (
    *DERIVED_FACT_FIELDS,
    "health_score",
    "health_zone",
    "predictive_risk",
    "pattern_status",
    "package_end_date",
    "sessions_left",
    "queue_score",
)


class ContactAdminForm(forms.ModelForm):
    def clean(self):
        cleaned_data = super().clean()
        # Normalise on the instance so each number and its *_is_valid flag are set together;
        # an unparseable number is kept as typed and flagged rather than rejected.
        contact_set_phones(self.instance, phone=cleaned_data.get("phone"), mobile=cleaned_data.get("mobile"))
        for field in ("phone", "mobile"):
            if field in cleaned_data:
                cleaned_data[field] = getattr(self.instance, field)
        return cleaned_data


# "example.com", "@Example.COM": what reads as an email domain in a search box.
_DOMAIN = re.compile(r"@?((?:[a-z0-9-]+\.)+[a-z]{2,})", re.IGNORECASE)


def _email_domain(term: str) -> str | None:
    match = _DOMAIN.fullmatch(term)
    return match.group(1).lower() if match else None


class PhoneValidityFilter(admin.SimpleListFilter):
    title = "phone numbers"
    parameter_name = "phones"

    def lookups(self, request, model_admin):
        return [("invalid", "Invalid (kept as typed)"), ("valid", "All valid")]

    def queryset(self, request, queryset):
        invalid = Q(phone_is_valid=False) | Q(mobile_is_valid=False)
        if self.value() == "invalid":
            return queryset.filter(invalid)
        if self.value() == "valid":
            return queryset.exclude(invalid)
        return queryset


class ReassignOwnerForm(forms.Form):
    to_owner = forms.ModelChoiceField(queryset=Owner.objects.filter(is_active=True), label="New owner")
    note = forms.CharField(
        max_length=OwnerChange._meta.get_field("note").max_length,
        required=False,
        help_text="Saved in each contact's owner history.",
    )


@admin.register(Contact)
class ContactAdmin(LargeTableAdmin):
    form = ContactAdminForm
    # Newest first, served by the primary key; also keeps autocomplete pages stable.
    ordering = ("-pk",)
    list_display = (
        "name",
        "email",
        "phones",
        "owner",
        "lifecycle_stage",
        "health_zone",
        "last_call_at",
        "last_call_status",
        "call_count",
        "answered_call_count",
        "days_since_activity",
    )
    list_filter = (
        "lifecycle_stage",
        "health_zone",
        "tier",
        "is_archived",
        "do_not_contact",
        PhoneValidityFilter,
        # A plain related filter lists the ~40 owners; RelatedOnlyFieldListFilter would scan
        # every contact for its distinct owners on each page load.
        "owner",
    )
    list_select_related = ("owner",)
    # Prefix and exact lookups only, each served by an index (the names' and email's trigram
    # indexes on PostgreSQL): each word is tested against every field below. Phone numbers and
    # email domains are matched in get_search_results.
    search_fields = ("hubspot_id__exact", "^email", "^first_name", "^last_name")
    search_help_text = (
        "Name, email, email domain (@example.com) or HubSpot id; phone numbers in any format "
        "(050 123 4567, +971 50 123 4567) or part of one."
    )
    autocomplete_fields = ("owner", "merged_into")
    actions = ("reassign_owner", "assign_fairly")
    readonly_fields = (
        *CONTACT_FACT_FIELDS,
        "phone_is_valid",
        "mobile_is_valid",
        "owner_changed_at",
        "hs_created_at",
        "hs_updated_at",
        "created_at",
        "updated_at",
        "hubspot_link",
        "related_records",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    ("first_name", "last_name"),
                    "email",
                    ("phone", "phone_is_valid"),
                    ("mobile", "mobile_is_valid"),
                    "city",
                    "related_records",
                ),
            },
        ),
        (
            "Owner and stage",
            {
                "fields": (
                    ("owner", "owner_changed_at"),
                    "assigned_coach",
                    ("lifecycle_stage", "lead_status"),
                    "tier",
                    "merged_into",
                ),
            },
        ),
        (
            "Consent",
            {
                "fields": (
                    "is_archived",
                    "do_not_contact",
                    "phone_opt_out",
                    "whatsapp_opt_out",
                    "email_opt_out",
                    "sms_opt_out",
                ),
            },
        ),
        (
            "Source",
            {
                "classes": ("collapse",),
                "fields": (
                    "lead_source",
                    "utm_source",
                    "utm_medium",
                    "utm_campaign",
                    "utm_term",
                    "utm_content",
                ),
            },
        ),
        (
            "HubSpot",
            {
                "classes": ("collapse",),
                "fields": (
                    ("hubspot_id", "hubspot_link"),
                    ("hs_created_at", "hs_updated_at"),
                    ("created_at", "updated_at"),
                ),
            },
        ),
        ("Call facts (maintained automatically)", {"classes": ("collapse",), "fields": CONTACT_FACT_FIELDS}),
    )

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Contact], search_term: str):
        # Filters of `queryset` only, so the changelist's filters still apply.
        term = search_term.strip()
        # Numbers are stored in E.164: "050 123 4567" matches only once normalised, as the
        # follow-up search does it. Digits may also be a HubSpot id.
        if (by_phone := phone_search_condition(term)) is not None:
            return queryset.filter(by_phone | Q(hubspot_id=term)), False
        domain = _email_domain(term)
        by_domain = queryset.alias(email_domain=EMAIL_DOMAIN).filter(email_domain=domain)
        if term.startswith("@") and domain:
            return by_domain, False
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # "example.com" may also begin an email or a name: either matches.
        return (results | by_domain if domain else results), may_have_duplicates

    # A deleted contact leaves its owner's follow-up figures (bulk delete is not offered).
    def delete_model(self, request: HttpRequest, obj: Contact) -> None:
        owner_id = obj.owner_id
        super().delete_model(request, obj)
        follow_up_figures_forget([owner_id])

    def save_model(self, request: HttpRequest, obj: Contact, form, change: bool) -> None:
        moves = "owner" in form.changed_data
        new_owner = obj.owner
        if moves:
            # An owner chosen here moves through the service, like the bulk action, so the move
            # is recorded in the contact's owner history.
            obj.owner_id = (
                Contact.objects.values_list("owner_id", flat=True).get(pk=obj.pk) if change else None
            )
        super().save_model(request, obj, form, change)
        if moves:
            contacts_reassign(
                contact_ids=[obj.pk],
                to_owner=new_owner,
                source=OwnerChangeSource.MANUAL,
                changed_by=request.user,
            )
            obj.refresh_from_db(fields=["owner", "owner_changed_at"])
        # Stage, do-not-contact or archiving decide whether and how high the contact is queued.
        queue_scores_refresh([obj.pk])
        obj.refresh_from_db(fields=["queue_score"])

    @admin.display(description="Name", ordering="first_name")
    def name(self, contact: Contact) -> str:
        return str(contact)

    @admin.display(description="Phone / mobile", ordering="phone")
    def phones(self, contact: Contact):
        numbers = [(contact.phone, contact.phone_is_valid), (contact.mobile, contact.mobile_is_valid)]
        invalid = mark_safe(' <strong title="Could not be normalised; kept as typed">⚠ invalid</strong>')
        rows = [(number, "" if valid else invalid) for number, valid in numbers if number]
        return format_html_join(mark_safe("<br>"), "{}{}", rows) or None

    @admin.display(description="Days since activity", ordering="-last_activity_at")
    def days_since_activity(self, contact: Contact) -> int | None:
        return timeutils.days_since(contact.last_activity_at)

    @admin.display(description="HubSpot")
    def hubspot_link(self, contact: Contact):
        if not (url := contact.hubspot_url):
            return None
        return format_html('<a href="{}" target="_blank" rel="noopener">Open in HubSpot</a>', url)

    @admin.display(description="Records")
    def related_records(self, contact: Contact):
        # Links to filtered changelists rather than inlines: a contact can have hundreds of calls.
        if contact.pk is None:
            return None
        links = [
            ("calls_callrecord", f"Calls ({contact.call_count})"),
            ("leads_ownerchange", "Owner history"),
            ("leads_deal", "Deals"),
            ("leads_task", "Tasks"),
            ("leads_healthscore", "Health history"),
            ("calls_intervention", "Interventions"),
        ]
        return format_html_join(
            " · ",
            '<a href="{}?contact__id__exact={}">{}</a>',
            ((reverse(f"admin:{name}_changelist"), contact.pk, label) for name, label in links),
        )

    @admin.action(description="Reassign owner…", permissions=["change"])
    def reassign_owner(self, request: HttpRequest, queryset: QuerySet[Contact]):
        # Runs twice: from the changelist it renders the confirmation page; that page posts
        # back here with "apply", the owner and the note, and the service moves the contacts.
        form = ReassignOwnerForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            to_owner = form.cleaned_data["to_owner"]
            contact_ids = list(queryset.values_list("pk", flat=True))
            done = contacts_reassign_now_or_queued(
                contact_ids=contact_ids,
                to_owner=to_owner,
                source=OwnerChangeSource.MANUAL,
                changed_by=request.user,
                note=form.cleaned_data["note"],
            )
            if done.in_background:
                message = (
                    f"Moving {done.queued:,} contacts to {to_owner} in the background; each is "
                    "recorded in its owner history as it moves. Reload in a minute to see them."
                )
            else:
                message = f"Reassigned {done.moved} contact{pluralize(done.moved)} to {to_owner}."
                if skipped := len(contact_ids) - done.moved:
                    message += f" {skipped} already belonged to them."
            self.message_user(request, message, messages.SUCCESS)
            return None
        count = queryset.count()
        sample = list(queryset.select_related("owner")[:10])
        context = {
            **self.admin_site.each_context(request),
            "title": "Reassign owner",
            "opts": self.model._meta,
            "form": form,
            "count": count,
            "sample": sample,
            "more": count - len(sample),
            # Posted back unchanged, so the confirmation acts on the same selection (including
            # "select all" across the filtered changelist, which re-runs its filters).
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/leads/contact/reassign.html", context)

    @admin.action(description="Assign fairly (capacity-weighted rotation)", permissions=["change"])
    def assign_fairly(self, request: HttpRequest, queryset: QuerySet[Contact]) -> None:
        # Only contacts with no owner or an inactive one move; leads beyond everyone's 24-hour
        # quota stay unassigned and the next replenishment run hands them out.
        contact_ids = list(queryset.values_list("pk", flat=True))
        result = contacts_assign(
            contact_ids=contact_ids, changed_by=request.user, note="Bulk assignment in the admin"
        )
        message = result.summary()
        if kept := len(contact_ids) - result.assigned - result.carried_over:
            message += (
                f" {kept} already had an active owner (or are archived, merged or do-not-contact):"
                " left as they are."
            )
        self.message_user(request, message, messages.SUCCESS if result.assigned else messages.WARNING)


@admin.register(OwnerChange)
class OwnerChangeAdmin(ContactSearchMixin, ReadOnlyAdmin):
    list_display = ("changed_at", "contact", "from_owner", "to_owner", "source", "changed_by", "note")
    list_filter = ("source", "changed_at", "to_owner")
    list_select_related = ("contact", "from_owner", "to_owner", "changed_by")


# --- HubSpot deals and tasks --------------------------------------------------------------


@admin.register(Deal)
class DealAdmin(ContactSearchMixin, LargeTableAdmin):
    list_display = ("name", "contact", "owner", "stage_label", "amount", "close_date", "is_closed", "is_won")
    list_filter = ("is_closed", "is_won", "is_archived", "close_date", "owner")
    list_select_related = ("contact", "owner")
    autocomplete_fields = ("contact", "owner")
    readonly_fields = ("created_at", "updated_at")


@admin.register(Task)
class TaskAdmin(ContactSearchMixin, LargeTableAdmin):
    list_display = ("subject", "contact", "owner", "task_type", "status", "due_at", "completed_at")
    list_filter = ("status", "task_type", "is_archived", "due_at", "owner")
    list_select_related = ("contact", "owner")
    autocomplete_fields = ("contact", "owner")
    readonly_fields = ("created_at", "updated_at")


@admin.register(HealthScore)
class HealthScoreAdmin(ContactSearchMixin, ReadOnlyAdmin):
    # Written by leads.services.health_score_record, which also copies the newest score onto
    # the contact; an edit here would leave the contact's current health disagreeing.
    list_display = (
        "computed_at",
        "contact",
        "score",
        "zone",
        "predictive_risk",
        "package_value",
        "sessions_left",
        "pattern_status",
    )
    list_filter = ("zone", "pattern_status", "computed_at")
    list_select_related = ("contact",)
