"""Signing in and landing on the home page, as a setter and as a manager would."""

import re

import pytest
from playwright.sync_api import Page, expect

from calls.models import CallOutcome, CallStatus
from crm.roles import MANAGER, SETTER
from leads.models import LifecycleStage
from tests.browser.conftest import sign_in
from tests.factories import CallRecordFactory, ContactFactory, OwnerFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "setter-pass-2026"


@pytest.fixture
def demo_setter():
    """Like the demo's setter login: a Setter linked to an Owner with a few contacts and calls today."""
    user = UserFactory(
        username="sara", first_name="Sara", last_name="Haddad", groups=[SETTER], password=PASSWORD
    )
    owner = OwnerFactory(user=user, first_name="Sara", last_name="Haddad")
    stages = [LifecycleStage.LEAD] * 3 + [LifecycleStage.SQL, LifecycleStage.CUSTOMER]
    contacts = [ContactFactory(owner=owner, lifecycle_stage=stage) for stage in stages]
    CallRecordFactory(contact=contacts[0], status=CallStatus.ANSWERED, outcome=CallOutcome.BOOKED)
    CallRecordFactory(contact=contacts[1], status=CallStatus.NO_ANSWER)
    # Another setter's contact and call must not show up in Sara's figures.
    CallRecordFactory(contact=ContactFactory(lifecycle_stage=LifecycleStage.MQL))
    return user


def test_setter_signs_in_and_sees_own_figures(page: Page, demo_setter, screenshot):
    # given: an anonymous visit to the home page is sent to sign in
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    screenshot("login")

    # when
    sign_in(page, "sara", PASSWORD)

    # then
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_test_id("scope-label")).to_have_text("Sara Haddad")
    expect(page.get_by_test_id("calls-today")).to_have_text("2")
    expect(page.get_by_test_id("reached-today")).to_have_text("1")
    expect(page.get_by_test_id("bookings-today")).to_have_text("1")
    expect(page.get_by_test_id("total-contacts")).to_have_text("5")
    expect(page.get_by_test_id("stages").get_by_role("row", name="Lead")).to_contain_text("3")
    expect(page.get_by_test_id("stages")).not_to_contain_text("MQL")
    expect(page.get_by_test_id("user-role")).to_have_text("Setter")
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)
    # htmx loaded from our own static files (no CDN)
    page.wait_for_load_state("load")
    assert page.evaluate("typeof htmx !== 'undefined' && htmx.version.startsWith('2.')")
    screenshot("home-setter")
    page.set_viewport_size({"width": 768, "height": 1024})  # a tablet held upright
    expect(page.get_by_test_id("calls-today")).to_be_visible()
    screenshot("home-setter-tablet")


def test_manager_lands_on_the_dashboard_for_all_owners(page: Page, demo_setter, screenshot):
    UserFactory(
        username="maya",
        first_name="Maya",
        last_name="Khan",
        is_staff=True,
        groups=[MANAGER],
        password=PASSWORD,
    )

    page.goto("/login/")
    sign_in(page, "maya", PASSWORD)

    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_test_id("scope-label")).to_have_text("All owners")
    # every contact was created 30 days ago and none has a call on its facts yet
    expect(page.get_by_test_id("not-reached-total")).to_have_text("6")
    expect(page.get_by_test_id("bookings-week")).to_have_text("1")
    expect(page.get_by_test_id("user-role")).to_have_text("Manager")
    expect(page.get_by_role("link", name="Admin")).to_be_visible()
    screenshot("home-manager")


def test_wrong_password_shows_an_error_and_logout_returns_tosign_in(page: Page, demo_setter, screenshot):
    page.goto("/login/")
    sign_in(page, "sara", "not-the-password")

    expect(page.get_by_test_id("login-error")).to_contain_text("correct username and password")
    screenshot("login-error")

    sign_in(page, "sara", PASSWORD)
    page.get_by_role("button", name="Log out").click()

    expect(page).to_have_url(re.compile(r"/login/$"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
