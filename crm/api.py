"""JSON API plumbing: authentication by session or bearer token, and JSON errors."""

import hashlib
import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import wraps

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from crm.models import ApiToken

# Writing last_used_at on every request would turn each read into a write; once a minute is plenty.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def api_token_create(*, user, name: str) -> tuple[ApiToken, str]:
    """Create a token for `user`; returns the row and the token, which is never stored."""
    token = "crm_" + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(user=user, name=name, key_hash=token_hash(token), prefix=token[:8])
    return row, token


def json_error(message: str, *, status: int, fields: dict | None = None) -> JsonResponse:
    body = {"error": message}
    if fields:
        body["fields"] = fields
    return JsonResponse(body, status=status)


def _token_user(request: HttpRequest):
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    row = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=token_hash(token.strip()), is_revoked=False, user__is_active=True)
        .first()
    )
    if row is None:
        return None
    now = timezone.now()
    if row.last_used_at is None or row.last_used_at < now - _LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row.user


def api_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Session or bearer-token authentication; 401 JSON (not a login redirect) for anyone else."""

    @login_not_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            user = _token_user(request)
            if user is None:
                response = json_error(
                    "Authentication required: log in or send 'Authorization: Bearer <token>'.", status=401
                )
                response["WWW-Authenticate"] = 'Bearer realm="api"'
                return response
            request.user = user
        return view(request, *args, **kwargs)

    return wrapper
