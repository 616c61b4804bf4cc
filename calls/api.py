"""The call queue as JSON: GET /api/leads/needing-action (SPEC S2)."""

import time

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from calls import selectors
from calls.forms import QueueApiForm
from crm.api import api_view, json_error


@require_GET
@api_view
def leads_needing_action(request: HttpRequest) -> JsonResponse:
    started = time.perf_counter()
    form = QueueApiForm(request.GET, user=request.user)
    if not form.is_valid():
        fields = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
        if form.owner_not_visible() and len(fields) == 1:  # well formed: not found, not malformed
            return json_error("No such owner.", status=404, fields=fields)
        return json_error("Invalid parameters.", status=400, fields=fields)
    queue = selectors.call_queue(user=request.user, filters=form.filters())
    drafts = selectors.drafts_for_entries(queue.entries, use_ai=form.cleaned_data["generate_ai_messages"])
    leads = [selectors.queue_entry_json(entry, drafts.get(entry.contact.pk)) for entry in queue.entries]
    return JsonResponse(
        {"count": len(leads), "duration_ms": round((time.perf_counter() - started) * 1000), "leads": leads}
    )
