"""The replenishment page (SPEC S9) for managers and ops, and its two actions."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_GET, require_POST

from campaigns.models import RunStatus, RunTrigger
from campaigns.overview import replenishment_overview
from campaigns.replenishment import replenishment_run
from crm import roles
from leads.assignment import contacts_assign


def _require_manager(request: HttpRequest) -> None:
    if not roles.is_manager(request.user):
        raise PermissionDenied("Replenishment is for managers and ops.")


@require_GET
def replenishment(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    # Only ops may add a source (the admin's add page is 403 for managers, who read sources); the
    # Ops group holds every campaigns permission, and its name is already read for this request.
    can_upload = request.user.is_staff and roles.is_ops(request.user)
    context = {"overview": replenishment_overview(), "can_upload": can_upload}
    return render(request, "campaigns/replenishment.html", context)


@require_POST
def replenishment_run_now(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    outcome = replenishment_run(trigger=RunTrigger.PAGE, triggered_by=request.user)
    level = messages.WARNING if outcome.status == RunStatus.SKIPPED else messages.SUCCESS
    messages.add_message(request, level, " · ".join(outcome.lines[1:]))
    return redirect("replenishment")


@require_POST
def replenishment_dry_run(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    outcome = replenishment_run(trigger=RunTrigger.PAGE, triggered_by=request.user, dry_run=True)
    lines = format_html_join("", "<br>{}", ((line,) for line in outcome.lines[1:]))
    messages.info(
        request, format_html("<strong>Dry run</strong> (nothing was created or assigned):{}", lines)
    )
    return redirect("replenishment")


@require_POST
def assign_waiting_now(request: HttpRequest) -> HttpResponse:
    _require_manager(request)
    result = contacts_assign(changed_by=request.user, note="Assigned from the replenishment page")
    messages.success(request, result.summary())
    return redirect("replenishment")
