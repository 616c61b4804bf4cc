"""How the signed-in user is loaded, and how a sign-in that guessed too often is answered."""

import ipaddress

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


class UserWithOwnerBackend(ModelBackend):
    """Django's model backend, except that each request's user is loaded together with their
    Owner: a setter's every page is scoped by it, so this saves each page a query."""

    def get_user(self, user_id):
        users = get_user_model()._default_manager.select_related("owner")
        try:
            user = users.get(pk=user_id)
        except get_user_model().DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None


def client_ip(request: HttpRequest) -> str | None:
    """The address login throttling counts a request against (django-axes' AXES_CLIENT_IP_CALLABLE).

    Behind the proxy (DJANGO_BEHIND_PROXY) REMOTE_ADDR is the proxy's own address, the same for
    everyone; the client's is the last X-Forwarded-For entry, the one the proxy appended. Earlier
    entries come from the client and could be forged to dodge the count, so they are not read."""
    if settings.BEHIND_PROXY:
        hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        try:
            return str(ipaddress.ip_address(hops[-1].strip()))
        except ValueError:
            pass  # no header, or not an address: count it against the proxy's
    return request.META.get("REMOTE_ADDR")


def lockout_response(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """What a locked-out sign-in gets, on /login/ and /admin/login/ (AXES_LOCKOUT_CALLABLE): the
    sign-in page in the site layout saying why and for how long, with status 429. It does not say
    whether the username or the address is locked: that would tell a guesser which names exist."""
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    username = request.POST.get("username", "")
    context = {
        "form": AuthenticationForm(request, initial={"username": username}),
        "next": request.POST.get("next") or request.GET.get("next", ""),
        "locked_out_minutes": minutes,
    }
    return render(request, "registration/login.html", context, status=settings.AXES_HTTP_RESPONSE_CODE)
