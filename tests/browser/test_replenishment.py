"""The replenishment page as a manager clicks through it."""

import re

import pytest
from playwright.sync_api import Page, expect

from campaigns.models import ReplenishmentConfig, ReplenishmentRun
from campaigns.services import source_upload
from crm.roles import MANAGER, SETTER
from leads.models import Contact, Tier
from tests.browser.conftest import sign_in
from tests.campaigns.conftest import as_json, lead
from tests.factories import ContactFactory, OwnerFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "replenish-pass-2026"


@pytest.fixture
def low_inventory():
    UserFactory(username="mona", first_name="Mona", is_staff=True, groups=[MANAGER], password=PASSWORD)
    ReplenishmentConfig.objects.create(pk=1)
    owner = OwnerFactory(first_name="Sara", last_name="Haddad", daily_call_capacity=30)
    ContactFactory.create_batch(3, owner=owner, tier=Tier.A_PLUS)
    ContactFactory.create_batch(2, owner=None, tier=Tier.A)
    source_upload(
        name="Hot leads", file_name="hot.json", data=as_json([lead(i, tier="A+") for i in range(4)])
    )
    return owner


def test_manager_sees_why_the_next_run_would_upload_then_assigns_and_runs(
    page: Page, low_inventory, screenshot
):
    page.goto("/replenishment/")
    sign_in(page, "mona", PASSWORD)
    expect(page).to_have_url(re.compile(r"/replenishment/$"))
    expect(page.get_by_test_id("total-available")).to_have_text("5")
    expect(page.get_by_test_id("reasons")).to_contain_text("Total leads 5 below minimum 50")
    expect(page.get_by_test_id("reasons")).to_contain_text("A+ leads 3 below minimum 10")
    expect(page.locator('[data-tier="A+"]')).to_contain_text("below")
    expect(page.get_by_test_id("would-create")).to_have_text("4")
    expect(page.get_by_test_id("would-assign")).to_contain_text("Would assign 6 leads: Sara Haddad 6")
    screenshot("replenishment")

    # the two waiting leads go to Sara now
    page.get_by_test_id("assign-now").click()
    expect(page.locator(".messages")).to_contain_text("Assigned 2 leads (Sara Haddad 2).")
    expect(page.get_by_test_id("unassigned")).to_have_text("0")
    assert not Contact.objects.filter(owner__isnull=True).exists()

    # a run uploads the four new leads and appears in the last runs
    page.get_by_test_id("run-now").click()
    expect(page.locator(".messages")).to_contain_text("Created: 4 contacts")
    expect(page.get_by_test_id("runs")).to_contain_text("4 leads uploaded, 0 duplicates, 0 errors")
    expect(page.get_by_test_id("total-available")).to_have_text("9")
    assert ReplenishmentRun.objects.get().assigned == {"Sara Haddad": 4}


def test_setters_do_not_see_the_page_or_its_link(page: Page, low_inventory):
    UserFactory(username="sami", groups=[SETTER], password=PASSWORD)
    page.goto("/")
    sign_in(page, "sami", PASSWORD)
    expect(page.get_by_role("link", name="Replenishment")).to_have_count(0)
    response = page.goto("/replenishment/")
    assert response.status == 403
