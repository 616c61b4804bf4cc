"""One-time keys for action forms: a repeated POST (a double click, two tabs, a network retry)
gets the first answer again and changes nothing.

Each rendered action form carries a fresh key (`{% idempotency_key %}` from crm_forms; never
inside cached HTML, or every render would repeat it). A view wrapped in @idempotent inserts
(key, user) first, inside the transaction that does the work: a second request with the same
key waits on the unique index until the first commits, then fails its insert and replays the
stored answer. A request that fails (an exception) rolls its key back with its work, and one
that did nothing (a 4xx, an invalid form marked with key_unused) gives it back, so a retry does
the work. A POST without a key (an API client, a page rendered before keys existed) runs as before.
"""

import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import wraps

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from crm import timeutils
from crm.models import IdempotencyKey

FIELD = "idempotency_key"
KEY_LIFETIME = timedelta(hours=24)  # far longer than any retry or double click
# What a replayed answer needs: htmx's events and redirects, and the body's type.
REPLAYED_HEADERS = ("Content-Type", "HX-Trigger", "HX-Redirect", "Location")
UNUSED = "idempotency_key_unused"


def idempotent(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Run a POST view once per form key and user; a repeated key answers what the first did."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        raw = request.POST.get(FIELD, "")
        if not raw:
            return view(request, *args, **kwargs)
        try:
            key = uuid.UUID(raw)
        except ValueError:
            return HttpResponseBadRequest("Bad form key: reload the page.")
        with transaction.atomic():
            try:
                with transaction.atomic():  # a savepoint: the outer transaction survives a duplicate
                    record = IdempotencyKey.objects.create(key=key, user=request.user, path=request.path)
            except IntegrityError:
                record = None
            if record is not None:
                response = view(request, *args, **kwargs)
                if response.status_code >= 400 or getattr(response, UNUSED, False):
                    # Nothing was done (an invalid form): the corrected form may post the same key.
                    record.delete()
                    return response
                record.status = response.status_code
                record.headers = {
                    name: response[name] for name in REPLAYED_HEADERS if response.has_header(name)
                }
                record.body = response.content
                record.save(update_fields=["status", "headers", "body"])
                return response
        # The first request with this key has committed (its insert held ours until then).
        first = IdempotencyKey.objects.get(key=key, user=request.user)
        if first.path != request.path:
            return HttpResponseBadRequest("This form key was used for another action: reload the page.")
        return HttpResponse(bytes(first.body), status=first.status, headers=first.headers)

    return wrapper


def key_unused(response: HttpResponse) -> HttpResponse:
    """Mark an answer that did nothing (a form re-rendered with its errors): its key stays usable."""
    setattr(response, UNUSED, True)
    return response


def idempotency_keys_expire(*, older_than: timedelta = KEY_LIFETIME) -> int:
    """Delete keys past their lifetime (a form that old is stale anyway). Safe to run twice."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timeutils.now() - older_than).delete()
    return deleted
