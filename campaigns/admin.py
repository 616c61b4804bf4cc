"""Ops' replenishment controls: the configuration (editable, or loaded from a JSON file), lead
sources (upload a JSON/CSV file or register a path), every staged row with what became of it,
the runs with their audit, "run now" / "dry run" buttons, and who holds the run lock."""

import json
import re
from pathlib import Path

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponseRedirect
from django.template.defaultfilters import pluralize
from django.templatetags.static import static
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.views.decorators.http import require_POST

from campaigns.config import ConfigFileError, config_from_json, config_to_json
from campaigns.models import (
    ReplenishmentConfig,
    ReplenishmentLease,
    ReplenishmentRun,
    ReplenishmentSource,
    RunStatus,
    RunTrigger,
    SourceLead,
    SourceLeadStatus,
)
from campaigns.replenishment import replenishment_run
from campaigns.services import StagedFile, source_add_path, source_upload
from campaigns.sources import KNOWN_KEYS, SourceFileError, read_source, size_problem
from leads.admin import LargeTableAdmin, ReadOnlyAdmin

# Bad rows listed in the upload message; the rest are in the staged rows' changelist.
BAD_ROWS_SHOWN = 10
# Example lead files linked from the upload form (static/campaigns/; tests import them).
EXAMPLE_FILES = {"csv": "campaigns/example-leads.csv", "json": "campaigns/example-leads.json"}


# --- Configuration ------------------------------------------------------------------------


class ConfigForm(forms.ModelForm):
    load_json = forms.FileField(
        required=False,
        label="Load from JSON file",
        help_text="Optional: a configuration file (the original automation_config.json layout). "
        "Its values replace the ones above; what it leaves out keeps the value above.",
    )

    class Meta:
        model = ReplenishmentConfig
        fields = [
            field.name
            for field in ReplenishmentConfig._meta.get_fields()
            if field.editable and not field.auto_created
        ]

    def clean(self):
        cleaned_data = super().clean()
        upload = cleaned_data.get("load_json")
        if not upload:
            return cleaned_data
        base = ReplenishmentConfig(
            pk=1, **{k: v for k, v in cleaned_data.items() if k in self._meta_fields()}
        )
        try:
            loaded = config_from_json(upload.read().decode("utf-8", errors="replace"), base=base)
        except ConfigFileError as error:
            self.add_error("load_json", f"{upload.name}: {error}")
            return cleaned_data
        except ValidationError as error:
            problems = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in error.message_dict.items())
            self.add_error("load_json", f"{upload.name}: {problems}")
            return cleaned_data
        for name in self._meta_fields():
            cleaned_data[name] = getattr(loaded, name)
        return cleaned_data

    def _meta_fields(self) -> list[str]:
        return [name for name in self.fields if name != "load_json"]


@admin.register(ReplenishmentConfig)
class ReplenishmentConfigAdmin(admin.ModelAdmin):
    form = ConfigForm
    readonly_fields = ("as_json", "updated_at")
    fieldsets = (
        (None, {"fields": ("is_enabled",)}),
        (
            "Thresholds",
            {
                "fields": (
                    ("min_total_leads", "target_total_leads"),
                    ("min_a_plus_leads", "min_a_leads", "min_b_leads"),
                )
            },
        ),
        ("Upload controls", {"fields": (("max_per_run", "max_per_day"), "cooldown_minutes")}),
        (
            "Mix",
            {
                "fields": (
                    ("mix_a_plus", "mix_a", "mix_b"),
                    ("a_plus_high_conversion_percent", "a_plus_shift_points", "conversion_min_leads"),
                    ("tier_a_plus_min_score", "tier_a_min_score"),
                )
            },
        ),
        (
            "Business hours (optional)",
            {"fields": (("business_hours_start", "business_hours_end"), "business_weekdays")},
        ),
        ("File", {"fields": ("load_json", "as_json", "updated_at")}),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # one row, made with the defaults on first visit

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None):
        # One configuration: straight to its form (saved with the S9 defaults the first time).
        config, _ = ReplenishmentConfig.objects.get_or_create(pk=1)
        return HttpResponseRedirect(reverse("admin:campaigns_replenishmentconfig_change", args=[config.pk]))

    @admin.display(description="As JSON (to start a file)")
    def as_json(self, config: ReplenishmentConfig):
        return format_html("<pre>{}</pre>", config_to_json(config))


# --- Sources ------------------------------------------------------------------------------


class SourceForm(forms.ModelForm):
    upload = forms.FileField(required=False, help_text="A .json or .csv file of leads.")

    class Meta:
        model = ReplenishmentSource
        fields = ("name", "upload", "path", "default_lead_source", "is_active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].required = False
        if "upload" in self.fields:
            # Built here, not at import: static() needs the configured storage.
            self.fields["upload"].help_text = format_html(
                "A .json or .csv file of leads (UTF-8), one lead a row: a name (<code>name</code>, or "
                "<code>first_name</code> and <code>last_name</code>), an <code>email</code> and/or a "
                "<code>phone</code> (any format), and a <code>tier</code> (A+, A, B) or a "
                "<code>score</code> (0-100); optional <code>city</code> and <code>source</code>. "
                "JSON: a list of objects, or an object with a <code>leads</code> list. Bad rows are "
                "reported with their line and kept aside. Download an example: "
                '<a href="{}" download>CSV</a>, <a href="{}" download>JSON</a>.',
                static(EXAMPLE_FILES["csv"]),
                static(EXAMPLE_FILES["json"]),
            )
        self.data_bytes: bytes | None = None

    def clean(self):
        cleaned_data = super().clean()
        if self.instance.pk:
            return cleaned_data
        upload, file_path = cleaned_data.get("upload"), cleaned_data.get("path")
        if bool(upload) == bool(file_path):
            raise ValidationError("Upload a file or give a path (one of the two).")
        field, file_name = ("upload", upload.name) if upload else ("path", file_path)
        try:
            size = upload.size if upload else Path(file_path).stat().st_size
            problem = size_problem(file_name=file_name, size=size)
            if problem:  # before reading it: a file over the limit is refused, not a worker timeout
                raise SourceFileError(problem)
            self.data_bytes = upload.read() if upload else Path(file_path).read_bytes()
            for _ in read_source(file_name=file_name, data=self.data_bytes):
                pass  # an unusable file is refused here, with its message on the form
        except OSError as error:
            self.add_error("path", f"Cannot read {file_path}: {error.strerror or error}")
        except SourceFileError as error:
            self.add_error(field, str(error))
        return cleaned_data


@admin.register(ReplenishmentSource)
class ReplenishmentSourceAdmin(admin.ModelAdmin):
    form = SourceForm
    list_display = (
        "name",
        "kind",
        "file_name",
        "is_active",
        "row_count",
        "bad_row_count",
        "rows_link",
        "last_read_at",
        "created_by",
    )
    list_filter = ("kind", "is_active")
    search_fields = ("name", "file_name", "path")
    list_select_related = ("created_by",)

    def get_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return ("name", "upload", "path", "default_lead_source", "is_active")
        return (
            "name",
            "default_lead_source",
            "is_active",
            "kind",
            "file_name",
            "path",
            ("row_count", "bad_row_count"),
            "rows_link",
            "last_read_at",
            "last_error",
            ("created_at", "created_by"),
        )

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        if obj is None:
            return ()
        return (
            "kind",
            "file_name",
            "path",
            "row_count",
            "bad_row_count",
            "rows_link",
            "last_read_at",
            "last_error",
            "created_at",
            "created_by",
        )

    def save_model(
        self, request: HttpRequest, obj: ReplenishmentSource, form: SourceForm, change: bool
    ) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        data = form.cleaned_data
        if data.get("upload"):
            source, parsed = source_upload(
                name=data["name"],
                file_name=data["upload"].name,
                data=form.data_bytes,
                created_by=request.user,
                default_lead_source=data["default_lead_source"],
            )
        else:
            source, parsed = source_add_path(path=data["path"], name=data["name"], created_by=request.user)
        ReplenishmentSource.objects.filter(pk=source.pk).update(is_active=data["is_active"])
        obj.pk = source.pk
        obj.refresh_from_db()
        self._report(request, parsed)

    def _report(self, request: HttpRequest, parsed: StagedFile) -> None:
        good, bad = parsed.row_count, len(parsed.errors)
        # A file with no usable row is saved, but nothing will come of it: not a success.
        self.message_user(
            request,
            f"{good} lead row{pluralize(good)} staged for replenishment.",
            messages.SUCCESS if good else messages.WARNING,
        )
        if bad:
            shown = "; ".join(f"line {row.line}: {row.reason}" for row in parsed.errors[:BAD_ROWS_SHOWN])
            more = f" (and {bad - BAD_ROWS_SHOWN} more: see the staged rows)" if bad > BAD_ROWS_SHOWN else ""
            self.message_user(
                request, f"{bad} bad row{pluralize(bad)} skipped: {shown}{more}.", messages.WARNING
            )

    @admin.display(description="Rows")
    def rows_link(self, source: ReplenishmentSource):
        url = reverse("admin:campaigns_sourcelead_changelist")
        return format_html('<a href="{}?source__id__exact={}">Staged rows</a>', url, source.pk)


@admin.register(SourceLead)
class SourceLeadAdmin(ReadOnlyAdmin):
    list_display = (
        "source",
        "line",
        "name",
        "email_shown",
        "phone_shown",
        "tier_shown",
        "score_shown",
        "status",
        "detail",
        "contact",
        "run",
    )
    list_filter = ("status", "tier", "source")
    list_select_related = ("source", "contact", "run")
    search_fields = ("^email_key", "phone_key", "^first_name", "^last_name")
    ordering = ("source", "line")

    def get_fields(self, request: HttpRequest, obj: SourceLead | None = None):
        # A bad row has no parsed values: show the row as read instead of a column of dashes.
        if obj is not None and obj.status == SourceLeadStatus.INVALID:
            return ("source", "line", "status", "detail", "row_as_read", "staged_at")
        return [name for name in super().get_fields(request, obj) if name != "row_as_read"]

    def get_readonly_fields(self, request: HttpRequest, obj: SourceLead | None = None):
        return ("row_as_read",)

    @admin.display(description="Name", ordering="first_name")
    def name(self, row: SourceLead) -> str:
        if row.status == SourceLeadStatus.INVALID:
            values = _raw_values(row)
            named = values.get("name") or f"{values.get('first_name', '')} {values.get('last_name', '')}"
            # Not an object of lead fields (or cut when staged): the row itself, shortened.
            return named.strip() or ("" if values else Truncator(row.raw).chars(120))
        return row.full_name

    @admin.display(description="Email", ordering="email")
    def email_shown(self, row: SourceLead) -> str:
        return _raw_values(row).get("email", "") if row.status == SourceLeadStatus.INVALID else row.email

    @admin.display(description="Phone", ordering="phone")
    def phone_shown(self, row: SourceLead) -> str:
        return _raw_values(row).get("phone", "") if row.status == SourceLeadStatus.INVALID else row.phone

    @admin.display(description="Tier", ordering="tier")
    def tier_shown(self, row: SourceLead) -> str:
        return _raw_values(row).get("tier", "") if row.status == SourceLeadStatus.INVALID else row.tier

    @admin.display(description="Score", ordering="score")
    def score_shown(self, row: SourceLead):
        return _raw_values(row).get("score", "") if row.status == SourceLeadStatus.INVALID else row.score

    @admin.display(description="Row as read")
    def row_as_read(self, row: SourceLead):
        try:
            text = json.dumps(json.loads(row.raw), indent=2, ensure_ascii=False)
        except ValueError:  # cut at 500 characters when staged, or not JSON at all
            text = row.raw
        return format_html("<pre>{}</pre>", text)


def _raw_values(row: SourceLead) -> dict[str, str]:
    """A bad row's values as read, by the column they would have filled (the parser's aliases)."""
    try:
        item = json.loads(row.raw)
    except ValueError:
        return {}
    if not isinstance(item, dict):
        return {}
    values: dict[str, str] = {}
    for key, value in item.items():
        canonical = KNOWN_KEYS.get(re.sub(r"[\s\-]+", "_", str(key).strip().lower()))
        if canonical and value not in (None, "") and canonical not in values:
            values[canonical] = str(value)
    return values


# --- Runs ---------------------------------------------------------------------------------


@admin.register(ReplenishmentRun)
class ReplenishmentRunAdmin(ReadOnlyAdmin):
    list_display = (
        "started_at",
        "trigger",
        "triggered_by",
        "status",
        "summary",
        "found",
        "selected",
        "created",
        "duplicates",
        "errors",
        "carried_over",
    )
    list_filter = ("status", "trigger")
    list_select_related = ("triggered_by",)
    date_hierarchy = "started_at"
    fields = (
        ("started_at", "finished_at"),
        ("trigger", "triggered_by", "status"),
        "summary",
        "output",
        "reasons",
        "targets",
        ("found", "selected", "created", "duplicates", "errors", "carried_over"),
        "assigned",
        "error_details",
        "metrics",
    )

    def has_run_permission(self, request: HttpRequest) -> bool:
        # Starting a run from the admin is an ops action (managers read runs, and run from the page).
        return request.user.has_perm("campaigns.add_replenishmentrun")

    @admin.display(description="Output")
    def output(self, run: ReplenishmentRun):
        return format_html("<pre>{}</pre>", "\n".join(run.steps))

    def get_urls(self):
        run_now = self.admin_site.admin_view(require_POST(self.run_now_view))
        return [path("run-now/", run_now, name="campaigns_replenishmentrun_run_now"), *super().get_urls()]

    def run_now_view(self, request: HttpRequest) -> HttpResponseRedirect:
        if not self.has_run_permission(request):
            raise PermissionDenied
        dry_run = request.POST.get("dry_run") == "1"
        outcome = replenishment_run(trigger=RunTrigger.ADMIN, triggered_by=request.user, dry_run=dry_run)
        lines = format_html_join("", "<br>{}", ((line,) for line in outcome.lines))
        level = messages.WARNING if outcome.status == RunStatus.SKIPPED else messages.SUCCESS
        self.message_user(request, format_html("{}{}", "Dry run:" if dry_run else "Run:", lines), level)
        return HttpResponseRedirect(reverse("admin:campaigns_replenishmentrun_changelist"))

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {**(extra_context or {}), "can_run": self.has_run_permission(request)}
        return super().changelist_view(request, extra_context)


@admin.register(ReplenishmentLease)
class ReplenishmentLeaseAdmin(LargeTableAdmin):
    """Who holds the run lock. Ops may end a stuck lease by setting its expiry to the past."""

    list_display = ("name", "holder", "acquired_at", "expires_at")
    readonly_fields = ("name", "holder", "acquired_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
