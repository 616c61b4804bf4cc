"""The queue refreshes itself every 2 minutes (and after every change) without losing a note a
setter is typing. The refresh is fired the way htmx fires it, without waiting 2 minutes."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from calls.models import CallRecord
from calls.services import queue_snooze
from tests.browser import test_queue
from tests.browser.test_queue import open_queue
from tests.factories import ContactFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

setter_with_queue = test_queue.setter_with_queue  # the queue tests' fixture
NOTE = "Asked about the June package; call back after 5"


def refresh(page: Page) -> None:
    """What the list's `every 120s` does: a GET of the list, swapped in when it answers."""
    with page.expect_response(lambda r: r.request.headers.get("hx-target") == "queue-list"):
        page.evaluate("htmx.trigger(document.body, 'queue-changed')")
    page.wait_for_load_state("networkidle")


def test_a_half_typed_note_survives_the_refresh(page: Page, setter_with_queue):
    user, urgent, _ = setter_with_queue
    open_queue(page, "sara")
    note = page.locator(f"#entry-{urgent.pk} textarea[name=note]")
    note.fill(NOTE)
    # a new lead arrives meanwhile, so the refresh has something to show
    newcomer = ContactFactory(owner=user.owner, first_name="Fresh", last_name="Arrival")

    # when: the refresh fires while the note has focus
    refresh(page)

    # then: the list is fresh, the note is still there and still has the focus
    expect(page.locator(f"#entry-{newcomer.pk}")).to_have_count(1)
    expect(note).to_have_value(NOTE)
    expect(note).to_be_focused()

    # and when: the setter steps away from the field (still typed, not sent) and it fires again
    page.locator("h1").click()
    refresh(page)
    expect(note).to_have_value(NOTE)

    # then the kept form still posts through htmx, with the note
    page.locator(f"#entry-{urgent.pk}").get_by_role("button", name="No answer").click()
    expect(page.locator(f"#entry-{urgent.pk}")).to_have_count(0)
    assert CallRecord.objects.get(contact=urgent).notes == NOTE


def test_refresh_waits_while_the_entry_being_typed_in_would_leave_the_list(page: Page, setter_with_queue):
    _, urgent, _ = setter_with_queue
    open_queue(page, "sara")
    note = page.locator(f"#entry-{urgent.pk} textarea[name=note]")
    note.fill(NOTE)
    # someone else snoozes the lead: the fresh list no longer has it
    queue_snooze(contact=urgent, until=timezone.now() + timedelta(days=1))

    refresh(page)

    expect(note).to_have_value(NOTE)
    assert page.evaluate("window.crmQueue.refreshWaiting()")

    # when: the note is cleared and the field left, the refresh that waited runs
    note.fill("")
    page.locator("h1").click()
    expect(page.locator(f"#entry-{urgent.pk}")).to_have_count(0)
    expect(page.locator('[data-card="total"]')).to_have_text("3")
