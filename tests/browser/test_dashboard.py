"""The manager dashboard as a manager clicks through it in the morning."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from calls.models import Intervention, InterventionType
from crm.roles import MANAGER, SETTER
from leads.models import LifecycleStage, Zone
from leads.services import health_score_record
from tests.browser.conftest import sign_in
from tests.factories import ContactFactory, InterventionFactory, OwnerFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "dashboard-pass-2026"


@pytest.fixture
def morning():
    """Sara has a RED client nobody called for 20 days, with an open wellness check; Omar has a
    lead that is fine."""
    UserFactory(username="maya", first_name="Maya", is_staff=True, groups=[MANAGER], password=PASSWORD)
    sara = OwnerFactory(
        user=UserFactory(username="sara", groups=[SETTER], password=PASSWORD),
        first_name="Sara",
        last_name="Haddad",
    )
    omar = OwnerFactory(first_name="Omar", last_name="Saleh")
    client = ContactFactory(
        owner=sara,
        first_name="Rania",
        last_name="Urgent",
        lifecycle_stage=LifecycleStage.CUSTOMER,
        last_call_at=timezone.now() - timedelta(days=20),
        call_count=1,
        outgoing_call_count=1,
    )
    health_score_record(contact=client, score=20, predictive_risk=85, package_value=Decimal(15_000))
    ContactFactory(
        owner=omar, last_call_at=timezone.now() - timedelta(days=1), call_count=1, outgoing_call_count=1
    )
    action = InterventionFactory(
        contact=client, owner=sara, zone_at_creation=Zone.RED, notes="Wellness check for Rania"
    )
    return sara, client, action


def sign_in_as_manager(page: Page) -> None:
    page.goto("/")
    sign_in(page, "maya", PASSWORD)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


def test_manager_clicks_an_owner_in_leads_not_reached_and_lands_on_their_queue(
    page: Page, morning, screenshot
):
    sara, client, _ = morning
    sign_in_as_manager(page)

    table = page.get_by_test_id("not-reached")
    expect(table.get_by_role("row", name=re.compile("Sara Haddad"))).to_contain_text("1")
    expect(table).not_to_contain_text("Omar")  # called yesterday: nothing waiting
    expect(page.get_by_test_id("revenue-at-risk")).to_have_text("AED 15,000")
    screenshot("dashboard")

    table.get_by_role("link", name="Sara Haddad", exact=True).click()

    expect(page).to_have_url(re.compile(rf"/queue/\?owner={sara.pk}&days=7$"))
    expect(page.locator(f"#entry-{client.pk}")).to_contain_text("URGENT: RED zone")
    expect(page.locator("select[name=owner]")).to_have_value(str(sara.pk))


def test_manager_records_an_intervention_outcome_in_place(page: Page, morning, screenshot):
    _, _, action = morning
    sign_in_as_manager(page)
    row = page.locator(f"#intervention-{action.pk}")
    expect(page.get_by_test_id("rate-overall")).to_have_text("\u2013")  # an en dash: no outcomes yet

    row.get_by_label("Note on Rania Urgent").fill("Booked two sessions")
    row.get_by_role("button", name="Success").click()

    expect(row.get_by_test_id("outcome")).to_have_text("Success")
    expect(row).to_contain_text("Booked two sessions")
    # the rates refresh themselves from the event the answer carried
    expect(page.get_by_test_id("rate-overall")).to_have_text("100%")
    action.refresh_from_db()
    assert (action.status, action.outcome, action.notes) == ("DONE", "success", "Booked two sessions")
    screenshot("dashboard-outcome")


def test_manager_generates_smart_actions_and_asks_why_revenue_changed(page: Page, morning):
    _, client, action = morning
    Intervention.objects.filter(pk=action.pk).delete()
    sign_in_as_manager(page)
    expect(page.get_by_test_id("no-interventions")).to_be_visible()

    page.get_by_role("button", name="Generate smart actions").click()

    interventions = page.get_by_test_id("interventions")
    expect(interventions).to_contain_text("Rania Urgent")
    expect(interventions).to_contain_text("Re-engagement")
    made = Intervention.objects.get(contact=client)
    assert made.intervention_type == InterventionType.RE_ENGAGEMENT and made.draft_message

    page.get_by_role("link", name="Why did it change this week?").click()

    expect(page.get_by_test_id("explanation-text")).to_contain_text(
        "Revenue at risk is AED 15,000 across 1 client"
    )
