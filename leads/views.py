from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from crm.http import HtmxHttpRequest
from leads import selectors


@require_GET
@login_required
def home(request: HtmxHttpRequest) -> HttpResponse:
    """Home: the user's figures until the manager dashboard replaces it."""
    return render(request, "leads/home.html", {"figures": selectors.home_figures(user=request.user)})
