"""The call queue page and its in-place actions (SPEC S2)."""

from django.contrib import messages
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from calls import interventions, selectors, services
from calls.forms import (
    InterventionOutcomeForm,
    MarkCalledForm,
    QueueFilterForm,
    SmartActionsForm,
    SnoozeForm,
)
from crm import roles
from crm.ai import ai_available
from crm.http import HtmxHttpRequest
from crm.idempotency import idempotent, key_unused
from leads.selectors import contacts_visible_to, owner_for_user

TEMPLATE = "calls/queue.html"
# Parts of the page htmx may ask for on their own (the same view, selector and template).
FRAGMENTS = {"queue-cards", "queue-list", "queue-side"}
QUEUE_CHANGED = "queue-changed"


@require_GET
@vary_on_headers("HX-Request", "HX-Target")
def queue(request: HtmxHttpRequest) -> HttpResponse:
    form = QueueFilterForm(request.GET, user=request.user)
    if not form.is_valid():
        return HttpResponseBadRequest(f"Bad queue filter: {form.errors.as_text()}")
    page = selectors.queue_page(user=request.user, filters=form.filters())
    template, fragment = TEMPLATE, request.htmx.target if request.htmx else None
    if fragment in FRAGMENTS:
        template += "#" + fragment
    # The side panels (activity, rhythm, pattern breaks, new assignments) load right after the
    # queue, as their own fragment: the setter's next call shows without waiting for them.
    side_deferred = fragment != "queue-side"
    context = {"form": form, "page": page, "ai_enabled": ai_available(), "side_deferred": side_deferred}
    return render(request, template, context)


@require_POST
@idempotent
def mark_called(request: HtmxHttpRequest, contact_id: int) -> HttpResponse:
    contact = get_object_or_404(contacts_visible_to(request.user), pk=contact_id)
    form = MarkCalledForm(request.POST)
    if not form.is_valid():
        return _invalid(request, form, contact, "calls/queue.html#mark-called-form")
    services.queue_mark_called(contact=contact, owner=owner_for_user(request.user), **form.call())
    return _done(request)


@require_POST
@idempotent
def snooze(request: HtmxHttpRequest, contact_id: int) -> HttpResponse:
    contact = get_object_or_404(contacts_visible_to(request.user), pk=contact_id)
    form = SnoozeForm(request.POST)
    if not form.is_valid():
        return _invalid(request, form, contact, "calls/queue.html#snooze-form")
    services.queue_snooze(
        contact=contact, until=form.snooze_until(), reason=form.cleaned_data["reason"] or "Snoozed"
    )
    return _done(request)


@require_GET
def draft(request: HtmxHttpRequest, contact_id: int) -> HttpResponse:
    """One entry's draft written by the AI (or its template when AI is off, late or failing)."""
    contact = get_object_or_404(contacts_visible_to(request.user), pk=contact_id)
    entry = selectors.queue_entry_for(contact=contact)
    result = selectors.drafts_for_entries([entry], use_ai=True).get(contact.pk)
    if result is None:
        return HttpResponse("No draft: the contact accepts no channel we can use.", status=409)
    return render(request, "calls/queue.html#draft", {"draft": result, "entry": entry})


def _done(request: HtmxHttpRequest) -> HttpResponse:
    """204 and an event: the list, the cards and the side panel refresh themselves."""
    if not request.htmx:
        # Back to the page the form was on, but never to another site named in a forged Referer.
        referer = request.headers.get("Referer", "")
        safe = url_has_allowed_host_and_scheme(
            referer, allowed_hosts={request.get_host()}, require_https=False
        )
        return redirect(referer if safe else "queue")
    return HttpResponse(status=204, headers={"HX-Trigger": QUEUE_CHANGED})


def _invalid(request: HtmxHttpRequest, form, contact, template: str) -> HttpResponse:
    # htmx does not swap 4xx answers, so an invalid form comes back re-rendered with 200.
    status = 200 if request.htmx else 400
    response = render(request, template, {"action_form": form, "contact": contact}, status=status)
    return key_unused(response)  # the corrected form posts again, with the key from the list


# --- Interventions (SPEC S4, S7): generated on the dashboard, closed in place -------------------

INTERVENTION_ROW = "calls/_intervention_row.html"
# New actions refresh the dashboard's list and rates; a closed one refreshes only the rates, so its
# row stays where it is, showing its outcome.
INTERVENTIONS_CHANGED = "interventions-changed"
INTERVENTION_CLOSED = "intervention-closed"


@require_POST
@idempotent
def interventions_generate(request: HtmxHttpRequest) -> HttpResponse:
    """Managers' "Generate smart actions": 204 and an event, so the list and rates refresh."""
    if not roles.is_manager(request.user):
        return HttpResponseForbidden("Only managers generate smart actions.")
    form = SmartActionsForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(f"Bad request: {form.errors.as_text()}")
    result = interventions.smart_actions_generate(user=request.user, limit=form.limit_value())
    if not request.htmx:
        messages.success(request, f"{len(result.created)} smart actions created.")
        return redirect("home")
    return HttpResponse(status=204, headers={"HX-Trigger": INTERVENTIONS_CHANGED})


@require_POST
@idempotent
def intervention_outcome(request: HtmxHttpRequest, intervention_id: int) -> HttpResponse:
    """Record how an intervention went; answers with its row, closed, for htmx to swap in."""
    item = get_object_or_404(
        interventions.interventions_visible_to(request.user).select_related("contact", "owner"),
        pk=intervention_id,
    )
    form = InterventionOutcomeForm(request.POST)
    error, status = "", 200
    if form.is_valid():
        try:
            item = interventions.intervention_outcome_record(
                intervention=item, outcome=form.cleaned_data["outcome"], note=form.cleaned_data["note"]
            )
        except interventions.InterventionClosed:
            item.refresh_from_db()
            error, status = "Someone already recorded how this went.", 409
    else:
        error, status = form.errors.as_text(), 400
    if not request.htmx:
        if error:
            return HttpResponse(error, status=status)
        return redirect("home")
    # htmx does not swap 4xx answers: problems come back in the row with 200.
    response = render(request, INTERVENTION_ROW, {"item": item, "error": error})
    if not error:
        response.headers["HX-Trigger"] = INTERVENTION_CLOSED
    return response
