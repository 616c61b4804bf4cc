"""The follow-up page's summary cards, its filter form and the URL always say the same thing."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser import test_follow_up
from tests.browser.test_follow_up import open_follow_up

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
team = test_follow_up.team  # the follow-up tests' fixture


def test_a_card_then_a_setter_keeps_both_in_the_url_and_the_form(page: Page, team):
    sara, _, _ = team
    open_follow_up(page)
    form = page.locator("#follow-up-filters")

    # when: the "Going cold" card is clicked
    page.locator('[data-card="going_cold"]').click()

    # then: its checkbox is ticked, as the URL says
    expect(page).to_have_url(re.compile(r"flag=going_cold"))
    expect(form.get_by_label("Going cold")).to_be_checked()
    expect(page.locator("tr.fu-row")).to_have_count(3)

    # when: a setter is chosen after the card
    form.locator("select[name='setter']").select_option(str(sara.pk))

    # then: the URL keeps the card's filter and the setter, and so does the form
    expect(page).to_have_url(re.compile(rf"setter={sara.pk}"))
    expect(page).to_have_url(re.compile(r"flag=going_cold"))
    expect(form.get_by_label("Going cold")).to_be_checked()
    expect(page.locator("tr.fu-row")).to_have_count(2)


def test_a_card_replaces_the_filters_it_does_not_keep(page: Page, team):
    open_follow_up(page)
    form = page.locator("#follow-up-filters")
    form.get_by_label("Going cold").check()
    expect(page).to_have_url(re.compile(r"flag=going_cold"))

    # when: the HIGH card is clicked (a card keeps the setter only)
    page.locator('[data-card="high"]').click()

    # then
    expect(page).to_have_url(re.compile(r"priority=1"))
    expect(page).not_to_have_url(re.compile(r"flag="))
    expect(form.get_by_label("Going cold")).not_to_be_checked()
    expect(form.locator("select[name='priority']")).to_have_value("1")


def test_a_setter_in_the_panel_sets_the_form(page: Page, team):
    sara, _, _ = team
    open_follow_up(page)
    page.locator("#follow-up-filters").get_by_label("Going cold").check()
    expect(page).to_have_url(re.compile(r"flag=going_cold"))

    page.locator(f'#follow-up-panel [data-setter="{sara.pk}"] a').click()

    expect(page).to_have_url(re.compile(rf"\?setter={sara.pk}$"))
    expect(page.locator("#follow-up-filters select[name='setter']")).to_have_value(str(sara.pk))
    expect(page.locator("#follow-up-filters").get_by_label("Going cold")).not_to_be_checked()
