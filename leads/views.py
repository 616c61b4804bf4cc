from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from crm import roles
from crm.ai import ai_available
from crm.http import HtmxHttpRequest
from leads import dashboard, explain, reassignment
from leads import follow_up as follow_up_selectors
from leads import services as leads_services
from leads.filters import ReassignForm
from leads.forms import DashboardForm

DASHBOARD = "leads/dashboard.html"
# Parts of the dashboard htmx may ask for on their own (the same view, selectors and template).
FRAGMENTS = {"not-reached", "revenue", "bookings", "owner-changes", "interventions", "rates", "explanation"}


@require_GET
@vary_on_headers("HX-Request", "HX-Target")
def home(request: HtmxHttpRequest) -> HttpResponse:
    """Managers get the dashboard; setters their own day."""
    if not roles.is_manager(request.user):
        return render(request, "leads/home.html", {"day": dashboard.setter_day(user=request.user)})
    form = DashboardForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(f"Bad dashboard request: {form.errors.as_text()}")
    data = form.cleaned_data
    fragment = request.htmx.target if request.htmx and request.htmx.target in FRAGMENTS else None
    template = f"{DASHBOARD}#{fragment}" if fragment else DASHBOARD
    explanation = None
    if fragment in (None, "explanation"):  # the only parts that show it (the URL keeps explain=)
        explanation = explain.explanation_for(kind=data["explain"], user=request.user, owner=data["owner"])
    board = dashboard.manager_dashboard(user=request.user, days=form.window_days)
    context = {"board": board, "form": form, "explanation": explanation, "ai_enabled": ai_available()}
    return render(request, template, context)


# --- Follow-up table (SPEC S3) -----------------------------------------------------------
FOLLOW_UP_TEMPLATE = "leads/follow_up.html"
# Parts of the follow-up page htmx may ask for on their own (same view, selector and template).
FOLLOW_UP_FRAGMENTS = {"follow-up-table", "follow-up-cards", "follow-up-panel"}
FOLLOW_UP_CHANGED = "follow-up-changed"


@require_GET
@vary_on_headers("HX-Request", "HX-Target")
def follow_up(request: HtmxHttpRequest) -> HttpResponse:
    """Every lead in one table; `format=csv` exports exactly the filtered, sorted rows."""
    previous_url = request.htmx.current_url if request.htmx else None
    page = follow_up_selectors.follow_up_page(
        user=request.user, params=request.GET, previous_url=previous_url
    )
    export = request.GET.get("format", "")
    if not page.is_valid() or export not in ("", "csv"):
        problem = page.errors.as_text() if not page.is_valid() else f"unknown format {export!r}"
        return HttpResponseBadRequest(f"Bad follow-up filter: {problem}", content_type="text/plain")
    if export == "csv":
        return StreamingHttpResponse(
            follow_up_selectors.csv_lines(page),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{page.csv_filename}"'},
        )
    template = FOLLOW_UP_TEMPLATE
    if request.htmx and request.htmx.target in FOLLOW_UP_FRAGMENTS:
        template += "#" + request.htmx.target
    return render(request, template, {"page": page})


@require_GET
def follow_up_row(request: HtmxHttpRequest, contact_id: int) -> HttpResponse:
    """An expanded row: call history, open deals and tasks, owner changes (also a page)."""
    detail = follow_up_selectors.row_detail(user=request.user, contact_id=contact_id)
    if detail is None:
        raise Http404("No such lead in your follow-up table.")
    template = "leads/follow_up_row.html" + ("#row-detail" if request.htmx else "")
    return render(request, template, {"detail": detail})


@require_POST
def follow_up_reassign(request: HtmxHttpRequest) -> HttpResponse:
    """A manager gives the ticked (or all filtered) leads to another setter; the table, cards and
    panel then refresh themselves on the event."""
    if not roles.is_manager(request.user):
        raise PermissionDenied("Only managers reassign leads.")
    form = ReassignForm(request.POST)
    if not form.is_valid():
        # htmx does not swap 4xx answers, so the form's message comes back with 200.
        status = 200 if request.htmx else 400
        return render(request, "leads/follow_up.html#reassign-result", {"form": form}, status=status)
    data = form.cleaned_data
    ids = follow_up_selectors.reassignable_contact_ids(
        user=request.user,
        params=form.filter_params,
        contact_ids=data["contact"],
        all_filtered=data["all_filtered"],
    )
    done = leads_services.contacts_reassign_now_or_queued(
        contact_ids=ids, to_owner=data["to_owner"], changed_by=request.user
    )
    progress = reassignment.job_progress(job=done.job) if done.job else None
    context = {"done": done, "to_owner": data["to_owner"], "selected": len(ids), "progress": progress}
    response = render(request, "leads/follow_up.html#reassign-result", context)
    response["HX-Trigger"] = FOLLOW_UP_CHANGED
    return response


@require_GET
def reassignment_job(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    """A large reassignment's progress: the follow-up page polls this fragment while the job runs
    (also a page of its own). The answer that finds it finished refreshes the table."""
    if not roles.is_manager(request.user):
        raise PermissionDenied("Only managers reassign leads.")
    progress = reassignment.job_for_user(user=request.user, job_id=job_id)
    if progress is None:
        raise Http404("No such reassignment of yours.")
    template = "leads/reassignment_job.html" + ("#reassignment-job" if request.htmx else "")
    response = render(request, template, {"progress": progress})
    if request.htmx and not progress.is_open:
        response["HX-Trigger"] = FOLLOW_UP_CHANGED
    return response
