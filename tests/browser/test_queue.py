"""The call queue as a setter and a manager click through it."""

import contextlib
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from calls.models import CallRecord, QueueState
from crm.roles import MANAGER, SETTER
from leads.models import Zone
from tests.browser.conftest import sign_in
from tests.factories import ContactFactory, OwnerFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "queue-pass-2026"


@pytest.fixture
def setter_with_queue():
    user = UserFactory(username="sara", first_name="Sara", groups=[SETTER], password=PASSWORD)
    owner = OwnerFactory(user=user, first_name="Sara", last_name="Haddad")
    long_ago = timezone.now() - timedelta(days=20)
    urgent = ContactFactory(
        owner=owner,
        first_name="Rania",
        last_name="Urgent",
        health_zone=Zone.RED,
        last_call_at=long_ago,
        call_count=1,
        outgoing_call_count=1,
    )
    later = [
        ContactFactory(
            owner=owner, first_name=f"Lead{i}", last_call_at=long_ago, call_count=1, outgoing_call_count=1
        )
        for i in range(3)
    ]
    return user, urgent, later


def open_queue(page: Page, username: str) -> None:
    page.goto("/queue/")
    sign_in(page, username, PASSWORD)
    expect(page).to_have_url(re.compile(r"/queue/"))
    # the deferred queue script has run (a function: the Content-Security-Policy refuses eval)
    page.wait_for_function("() => window.crmQueue !== undefined")


def test_setter_marks_a_call_and_the_entry_goes_and_the_cards_change(
    page: Page, setter_with_queue, screenshot
):
    _, urgent, _ = setter_with_queue
    open_queue(page, "sara")
    entry = page.locator(f"#entry-{urgent.pk}")
    expect(entry).to_contain_text("URGENT: RED zone · 20 days no contact")
    expect(page.locator('[data-card="total"]')).to_have_text("4")
    expect(page.locator('[data-card="contacted"]')).to_have_text("0")
    screenshot("queue")

    entry.get_by_role("button", name="No answer").click()

    expect(entry).to_have_count(0)
    expect(page.locator('[data-card="total"]')).to_have_text("3")
    expect(page.locator('[data-card="contacted"]')).to_have_text("1")
    expect(page.locator('[data-stat="calls"]')).to_have_text("1")
    assert CallRecord.objects.get().status == "no_answer"
    # the next lead is ready at once
    expect(page.locator("[data-entry]").first).to_be_focused()


def test_setter_books_with_the_keyboard(page: Page, setter_with_queue):
    _, urgent, _ = setter_with_queue
    open_queue(page, "sara")
    page.keyboard.press("j")
    expect(page.locator(f"#entry-{urgent.pk}")).to_be_focused()
    page.keyboard.press("b")
    expect(page.locator(f"#entry-{urgent.pk}")).to_have_count(0)
    expect(page.locator('[data-stat="bookings"]')).to_have_text("1")


def test_a_stale_panel_answer_arriving_late_never_hides_a_fresher_one(page: Page, setter_with_queue):
    """The side panels load right after the page. If a call is logged while that load is still on
    its way, the panels must end showing the call, not the answer computed before it."""
    _, urgent, _ = setter_with_queue
    held = []

    def hold_first_panel_load(route):
        if route.request.headers.get("hx-target") == "queue-side" and not held:
            held.append(route)
        else:
            route.continue_()

    page.route(re.compile(r"/queue/"), hold_first_panel_load)
    open_queue(page, "sara")
    for _ in range(250):  # the deferred load is on its way within a few seconds
        if held:
            break
        page.wait_for_timeout(20)
    assert held, "the side panels never asked for their content"
    before_the_call = held[0].fetch()  # the server answers now, before the call exists

    page.locator(f"#entry-{urgent.pk}").get_by_role("button", name="Booked").click()
    expect(page.locator(f"#entry-{urgent.pk}")).to_have_count(0)
    with contextlib.suppress(PlaywrightError):  # the browser gave up on that request, as it should
        held[0].fulfill(response=before_the_call)

    expect(page.locator('[data-stat="bookings"]')).to_have_text("1")
    expect(page.locator('[data-stat="calls"]')).to_have_text("1")


def test_setter_snoozes_a_lead_until_tomorrow(page: Page, setter_with_queue):
    _, urgent, _ = setter_with_queue
    open_queue(page, "sara")
    page.locator(f"#entry-{urgent.pk}").get_by_role("button", name="Snooze till tomorrow").click()
    expect(page.locator(f"#entry-{urgent.pk}")).to_have_count(0)
    expect(page.locator('[data-card="total"]')).to_have_text("3")
    assert QueueState.objects.get(contact=urgent).snoozed_until > timezone.now()


def test_a_callback_without_a_time_shows_the_error_in_place(page: Page, setter_with_queue):
    _, urgent, _ = setter_with_queue
    open_queue(page, "sara")
    entry = page.locator(f"#entry-{urgent.pk}")
    entry.get_by_role("button", name="Callback").click()
    expect(entry).to_contain_text("When did they ask to be called back?")
    assert not CallRecord.objects.exists()


def test_open_draft_survives_the_refresh(page: Page, setter_with_queue):
    _, urgent, later = setter_with_queue
    open_queue(page, "sara")
    entry = page.locator(f"#entry-{urgent.pk}")
    entry.get_by_text("Draft message").click()
    expect(entry.locator("details.draft")).to_have_attribute("open", "")
    # another entry is marked, which refreshes the list; the open draft stays open
    page.locator(f"#entry-{later[0].pk}").get_by_role("button", name="Busy").click()
    expect(page.locator(f"#entry-{later[0].pk}")).to_have_count(0)
    expect(page.locator('[data-card="total"]')).to_have_text("3")
    expect(entry.locator("details.draft")).to_have_attribute("open", "")


def test_manager_switches_owners_and_the_url_follows(page: Page, setter_with_queue):
    UserFactory(username="maya", groups=[MANAGER], password=PASSWORD)
    omar = OwnerFactory(first_name="Omar", last_name="Other")
    ContactFactory(owner=omar, first_name="Only", last_name="Omars")
    open_queue(page, "maya")
    expect(page.locator("[data-entry]")).to_have_count(5)
    page.get_by_label("Owner").select_option(str(omar.pk))
    expect(page).to_have_url(re.compile(rf"/queue/\?owner={omar.pk}"))
    expect(page.locator("[data-entry]")).to_have_count(1)
    expect(page.locator("[data-entry]")).to_contain_text("Only Omars")
