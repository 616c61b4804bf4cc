"""Every page, as each role sees it: no template source in the text, no Content-Security-Policy
violation, no failed request (favicon included), no sideways scrolling on a phone or a laptop."""

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page

from calls.models import CallOutcome, CallStatus
from crm.roles import MANAGER, OPS, SETTER
from leads.models import LifecycleStage, Zone
from leads.services import health_score_record
from tests.browser.conftest import sign_in
from tests.factories import CallRecordFactory, ContactFactory, InterventionFactory, OwnerFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "every-page-2026"
ROLES = ("setter", "manager", "ops")
APP_PAGES = ("/", "/queue/", "/follow-up/", "/follow-up/{lead}/")
PAGES = {
    # A setter asking for the replenishment page gets the 403 page, which is a page too.
    "setter": (*APP_PAGES, "/replenishment/"),
    "manager": (*APP_PAGES, "/replenishment/", "/admin/"),
    "ops": (
        *APP_PAGES,
        "/replenishment/",
        "/admin/",
        "/admin/leads/contact/",
        "/admin/leads/contact/{lead}/change/",
        "/admin/calls/callrecord/",
        "/admin/calls/intervention/",
        "/admin/hubspot_sync/syncrun/",
        "/admin/campaigns/replenishmentrun/",
        "/admin/scoring/priorityfactor/",
        "/admin/django_celery_beat/periodictask/",
    ),
}
# Reported from the page to the test through the console, which survives navigations.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (event) {
  console.error("CSP violation: " + event.violatedDirective + " blocked " + event.blockedURI
    + " at " + event.sourceFile + ":" + event.lineNumber);
});
"""

CLIPPED_TABLES = """Array.from(document.querySelectorAll('.table-wrap'))
  .filter(wrap => wrap.scrollWidth > wrap.clientWidth + 1)
  .map(wrap => (wrap.querySelector('table[data-testid]') || {dataset: {}}).dataset.testid || 'table')"""


@dataclass
class Visit:
    path: str
    status: int
    text: str = ""
    headers: dict = field(default_factory=dict)
    overflow: int = 0  # pixels the page is wider than the window
    clipped: list = field(default_factory=list)  # tables wider than their card (they scroll in it)


@dataclass
class Crawl:
    visits: list[Visit] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)


@pytest.fixture
def world():
    """Sara the setter with a few leads (one never called, one with calls and an open
    intervention), her manager Maya and Otto from ops."""
    sara = OwnerFactory(
        user=UserFactory(username="setter", first_name="Sara", groups=[SETTER], password=PASSWORD),
        first_name="Sara",
        last_name="Haddad",
    )
    UserFactory(username="manager", first_name="Maya", is_staff=True, groups=[MANAGER], password=PASSWORD)
    UserFactory(username="ops", first_name="Otto", is_staff=True, groups=[OPS], password=PASSWORD)
    client = ContactFactory(
        owner=sara,
        first_name="Rania",
        last_name="Abdulrahman-Fitzgerald",
        email="rania.abdulrahman-fitzgerald@example-company-with-a-long-name.com",
        lifecycle_stage=LifecycleStage.CUSTOMER,
        last_call_at=timezone.now() - timedelta(days=20),
        call_count=1,
        outgoing_call_count=1,
    )
    health_score_record(contact=client, score=20, predictive_risk=85, package_value=Decimal(15_000))
    CallRecordFactory(contact=client, status=CallStatus.ANSWERED, outcome=CallOutcome.BOOKED)
    InterventionFactory(contact=client, owner=sara, zone_at_creation=Zone.RED, notes="Wellness check")
    ContactFactory(owner=sara, first_name="Nadia", last_name="Never-Called")
    ContactFactory(
        owner=OwnerFactory(first_name="Omar", last_name="Saleh"), lifecycle_stage=LifecycleStage.SQL
    )
    return {"lead": client.pk}


def crawl(page: Page, role: str, world: dict, *, width: int = 1280) -> Crawl:
    """Sign in as `role` and open each of its pages at `width` px, waiting for htmx's loads."""
    result = Crawl()
    page.set_viewport_size({"width": width, "height": 900})
    page.add_init_script(CSP_LISTENER)
    page.on(
        "console",
        lambda message: result.console_errors.append(message.text) if message.type == "error" else None,
    )
    page.on(
        "response",
        lambda response: (
            result.failed_requests.append(f"{response.status} {response.url}")
            if response.status >= 400 and response.request.resource_type != "document"
            else None
        ),
    )
    page.goto("/login/")
    sign_in(page, role, PASSWORD)
    page.wait_for_url(lambda url: "/login/" not in url)
    for path in PAGES[role]:
        path = path.format(**world)
        response = page.goto(path)
        page.wait_for_load_state("networkidle")
        result.visits.append(
            Visit(
                path=path,
                status=response.status,
                text=page.inner_text("body"),
                headers=response.headers,
                overflow=page.evaluate("document.documentElement.scrollWidth - window.innerWidth"),
                clipped=page.evaluate(CLIPPED_TABLES),
            )
        )
    return result


@pytest.mark.parametrize("role", ROLES)
def test_no_page_shows_template_source(page: Page, world, role):
    visits = crawl(page, role, world).visits

    # then: a comment or tag Django did not parse would show as text
    leaks = {
        visit.path: [marker for marker in ("{#", "#}", "{%", "%}", "{{", "}}") if marker in visit.text]
        for visit in visits
    }
    assert {path: found for path, found in leaks.items() if found} == {}
    assert all(visit.text.strip() for visit in visits)
    # and every page opened (a setter is refused the replenishment page, with the 403 page)
    refused = {"/replenishment/": 403} if role == "setter" else {}
    assert {visit.path: visit.status for visit in visits if visit.status != 200} == refused


@pytest.mark.parametrize("role", ROLES)
def test_no_page_breaks_its_content_security_policy(page: Page, world, role):
    result = crawl(page, role, world)

    # then: every page is under the policy and nothing on it is refused
    for visit in result.visits:
        policy = visit.headers.get("content-security-policy", "")
        assert "default-src 'self'" in policy, visit.path
        assert "'unsafe-inline'" not in policy.split("script-src")[-1].split(";")[0], visit.path
        assert "camera=()" in visit.headers.get("permissions-policy", ""), visit.path
    violations = [
        text for text in result.console_errors if "Content Security Policy" in text or "CSP" in text
    ]
    assert violations == []
    # htmx is up and swapping under the policy: the queue's side panel replaced its placeholder
    assert "Loading…" not in next(visit.text for visit in result.visits if visit.path == "/queue/")


@pytest.mark.parametrize("role", ROLES)
def test_no_page_has_a_failed_request(page: Page, world, role):
    result = crawl(page, role, world)

    # then: stylesheets, scripts and the favicon all load
    assert result.failed_requests == []
    assert [text for text in result.console_errors if "404" in text] == []


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("role", ROLES)
def test_no_app_page_scrolls_sideways(page: Page, world, screenshot, role, width):
    result = crawl(page, role, world, width=width)

    # then: each app page fits the window (the admin's own tables are left to the admin)
    wide = {}
    for visit in result.visits:
        if visit.path.startswith("/admin/"):
            continue
        if visit.overflow > 0:
            wide[visit.path] = visit.overflow
    assert wide == {}
    # and on a laptop the dashboard's tables fit their cards (the interventions' "Failed" buttons)
    if width == 1280 and role != "setter":
        assert next(visit.clipped for visit in result.visits if visit.path == "/") == []


@pytest.mark.parametrize("width", [390, 1280])
@pytest.mark.parametrize("role", ROLES)
def test_screenshots_of_every_app_page(page: Page, world, screenshot, role, width):
    """Not an assertion: full-page pictures of each page at a phone's and a laptop's width, for
    a person to look at (test-artifacts/page-<role>-<width>-<page>.png)."""
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/login/")
    sign_in(page, role, PASSWORD)
    page.wait_for_url(lambda url: "/login/" not in url)
    for path in PAGES[role]:
        if path.startswith("/admin/") and path != "/admin/":
            continue
        page.goto(path.format(**world))
        page.wait_for_load_state("networkidle")
        name = path.strip("/").replace("/", "-").replace("{lead}", "lead") or "home"
        screenshot(f"page-{role}-{width}-{name}")
