from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """HttpRequest as our middleware stack leaves it: typed for editors and type checkers."""

    htmx: HtmxDetails
    user: AbstractBaseUser | AnonymousUser
