import json
import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from crm.api import json_error
from hubspot_sync import services
from hubspot_sync.signatures import signature_problem
from hubspot_sync.tasks import process_webhook_events_task

logger = logging.getLogger(__name__)


@csrf_exempt  # HubSpot cannot send a CSRF token; the v3 signature authenticates the request
@login_not_required
@require_POST
def hubspot_webhook(request: HttpRequest) -> HttpResponse:
    """HubSpot webhook deliveries: check the v3 signature, store each event once, answer at once
    (HubSpot retries anything slower than 5 s) and let a task re-fetch the changed records."""
    problem = signature_problem(
        secret=settings.HUBSPOT_CLIENT_SECRET,
        method=request.method,
        url=settings.HUBSPOT_WEBHOOK_URL or request.build_absolute_uri(),
        body=request.body,
        timestamp=request.headers.get("X-HubSpot-Request-Timestamp", ""),
        signature=request.headers.get("X-HubSpot-Signature-v3", ""),
    )
    if problem:
        return json_error(problem, status=401)
    try:
        events = json.loads(request.body)
    except ValueError:
        return json_error("body is not JSON", status=400)
    if not isinstance(events, list):
        return json_error("body must be a JSON array of events", status=400)
    delivery = services.webhook_events_store(events=events)
    if delivery.rejected:  # answered 200 all the same: a retry of the same events cannot do better
        logger.warning(
            "hubspot.webhook_events_rejected",
            extra={
                "received": len(events),
                "rejected": len(delivery.rejected),
                "reasons": delivery.rejected[:20],
            },
        )
    if delivery.new:
        try:
            process_webhook_events_task.delay()
        except Exception:  # stored events wait for the beat safety net; HubSpot must not resend
            logger.exception("hubspot.webhook_enqueue_failed")
    answer = {"received": len(events), "new": delivery.new}
    if delivery.rejected:
        answer.update(rejected=len(delivery.rejected), reasons=delivery.rejected[:20])
    return JsonResponse(answer)
