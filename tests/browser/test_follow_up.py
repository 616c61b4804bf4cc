"""The follow-up table as a manager clicks through it: filter by setter and flag, sort, expand a
row, reassign, export."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from calls.models import CallRecord
from crm.roles import MANAGER, SETTER
from leads.models import Contact, OwnerChange
from tests.browser.conftest import sign_in
from tests.factories import ContactFactory, OwnerFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "follow-up-pass-2026"


@pytest.fixture
def team():
    UserFactory(username="mona", first_name="Mona", groups=[MANAGER], password=PASSWORD)
    sara = OwnerFactory(
        user=UserFactory(username="sara", groups=[SETTER], password=PASSWORD),
        first_name="Sara",
        last_name="Haddad",
    )
    omar = OwnerFactory(first_name="Omar", last_name="Farouk")
    now = timezone.now()

    def lead(owner, first_name, days, **kwargs):
        return ContactFactory(
            owner=owner,
            first_name=first_name,
            last_name="Lead",
            last_call_at=now - timedelta(days=days),
            call_count=1,
            outgoing_call_count=1,
            **kwargs,
        )

    cold = lead(sara, "Cold", 12)
    lead(sara, "Warm", 1)
    lead(sara, "Cooling", 9)
    lead(omar, "Distant", 20)
    CallRecord.objects.create(
        contact=cold,
        owner=sara,
        status="no_answer",
        started_at=now - timedelta(days=12),
        notes="Left a voicemail about the offer",
    )
    return sara, omar, cold


def open_follow_up(page: Page, username: str = "mona") -> None:
    page.goto("/follow-up/")
    sign_in(page, username, PASSWORD)
    expect(page).to_have_url(re.compile(r"/follow-up/"))
    expect(page.locator("#follow-up-table")).to_be_visible()
    # the deferred scripts have run and htmx has wired the page (a change before that is lost)
    # (a function, not an expression string: the page's Content-Security-Policy refuses eval)
    page.wait_for_function("() => window.crmFollowUp !== undefined && document.readyState === 'complete'")


def row_names(page: Page) -> list[str]:
    return [text.strip() for text in page.locator("tr.fu-row .fu-name strong").all_inner_texts()]


def test_manager_filters_by_setter_and_flag_sorts_and_the_url_follows(page: Page, team, screenshot):
    sara, _, _ = team
    open_follow_up(page)
    expect(page.locator("tr.fu-row")).to_have_count(4)
    screenshot("follow-up")

    page.locator("#follow-up-filters select[name='setter']").select_option(str(sara.pk))
    expect(page).to_have_url(re.compile(rf"setter={sara.pk}"))
    expect(page.locator("tr.fu-row")).to_have_count(3)
    page.locator("#follow-up-filters").get_by_label("Going cold").check()
    expect(page).to_have_url(re.compile(r"flag=going_cold"))
    expect(page.locator("tr.fu-row")).to_have_count(2)
    expect(page.locator('[data-card="total"] .stat__value')).to_have_text("3")  # the setter's cards

    page.get_by_role("link", name="Days since contact").click()
    expect(page).to_have_url(re.compile(r"sort=days"))
    expect(page.locator("tr.fu-row").first).to_contain_text("Cooling")
    page.get_by_role("link", name="Days since contact").click()
    expect(page).to_have_url(re.compile(r"sort=-days"))
    expect(page.locator("tr.fu-row").first).to_contain_text("Cold")
    assert row_names(page) == ["Cold Lead", "Cooling Lead"]

    # the bookmarked URL gives the same view
    page.reload()
    assert row_names(page) == ["Cold Lead", "Cooling Lead"]


def test_click_a_row_to_see_its_calls_and_click_again_to_close(page: Page, team):
    _, _, cold = team
    open_follow_up(page)
    row = page.locator(f'tr.fu-row[data-row="{cold.pk}"]')
    row.locator(".fu-name").click()
    detail = page.locator(f"#detail-{cold.pk}")
    expect(detail).to_contain_text("Left a voicemail about the offer")
    expect(row).to_have_attribute("aria-expanded", "true")
    row.locator(".fu-name").click()
    expect(detail).to_be_empty()


def test_manager_reassigns_ticked_rows_and_the_table_and_panel_update(page: Page, team):
    sara, omar, cold = team
    open_follow_up(page)
    page.locator(f'input[name="contact"][value="{cold.pk}"]').check()
    page.locator("#reassign-form select[name='to_owner']").select_option(str(omar.pk))
    page.get_by_role("button", name="Reassign").click()
    expect(page.locator("#reassign-result")).to_contain_text("Reassigned 1 lead to Omar Farouk")
    expect(page.locator(f'[data-setter="{omar.pk}"] [data-figure="leads"]')).to_have_text("2")
    expect(page.locator(f'tr.fu-row[data-row="{cold.pk}"] [data-col="setter"]')).to_have_text("Omar Farouk")
    assert Contact.objects.get(pk=cold.pk).owner_id == omar.pk
    assert OwnerChange.objects.get(contact=cold).from_owner_id == sara.pk


def test_export_downloads_the_filtered_rows(page: Page, team):
    sara, _, _ = team
    open_follow_up(page)
    page.locator("#follow-up-filters select[name='setter']").select_option(str(sara.pk))
    expect(page.locator("tr.fu-row")).to_have_count(3)
    export = page.get_by_test_id("export-csv")
    expect(export).to_have_attribute("href", re.compile(rf"setter={sara.pk}.*format=csv"))
    with page.expect_download() as download_info:
        export.click()
    download = download_info.value
    assert download.suggested_filename.startswith("follow-up-") and download.suggested_filename.endswith(
        ".csv"
    )
    with open(download.path(), encoding="utf-8-sig") as exported:
        text = exported.read()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["Name"] for r in rows) == ["Cold Lead", "Cooling Lead", "Warm Lead"]


def test_setter_sees_only_their_leads_and_no_reassign(page: Page, team):
    open_follow_up(page, "sara")
    expect(page.locator("tr.fu-row")).to_have_count(3)
    expect(page.locator("#reassign-form")).to_have_count(0)
