"""Numbers read the way a person says them: a target passed, a priority, a lead never called."""

import re

import pytest
from django.utils import timezone

from calls.models import CallOutcome, CallStatus
from tests.factories import CallRecordFactory, ContactFactory

pytestmark = pytest.mark.django_db


def visible_text(response) -> str:
    """The page's words as read on screen: tags dropped, runs of white space as one space."""
    html = response.content.decode()
    html = re.sub(r"<(script|style|head)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace(" ,", ",").replace(" :", ":")


def test_setter_home_says_the_weekly_target_is_reached_without_x_of_y(setter_client, setter):
    # given: 3 bookings this week against a target of 2
    owner = setter.owner
    owner.weekly_booking_target = 2
    owner.save(update_fields=["weekly_booking_target"])
    for _ in range(3):
        contact = ContactFactory(owner=owner)
        CallRecordFactory(
            contact=contact, status=CallStatus.ANSWERED, outcome=CallOutcome.BOOKED, started_at=timezone.now()
        )

    text = visible_text(setter_client.get("/"))

    assert "3 booked this week, target 2: weekly target reached" in text
    assert "3 of 2" not in text


def test_setter_home_says_how_many_more_below_the_target(setter_client, setter):
    contact = ContactFactory(owner=setter.owner)
    CallRecordFactory(contact=contact, outcome=CallOutcome.BOOKED, started_at=timezone.now())

    text = visible_text(setter_client.get("/"))

    assert "1 booked this week, target 10: needs 9 more to hit this week's target" in text.replace(
        "&#x27;", "'"
    )


def test_dashboard_bookings_header_names_the_target(manager_client, setter):
    text = visible_text(manager_client.get("/"))

    assert "this week 0, target 10" in text


def test_follow_up_priority_badge_is_the_word_and_never_called_says_never(manager_client, setter):
    ContactFactory(owner=setter.owner, first_name="Nina", call_count=0)  # never called: HIGH

    response = manager_client.get("/follow-up/")

    html = response.content.decode()
    badge = re.search(r'<span class="badge fu-priority[^"]*"[^>]*>([^<]*)</span>', html)
    assert badge.group(1) == "HIGH"
    days = re.search(r'data-days="\d+">([^<]*)</span>', html)
    assert days.group(1) == "never"
