"""Pattern breaks on constructed rhythms (SPEC S10)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from calls.selectors import owner_rhythms, pattern_break_alerts
from calls.services import owner_rhythms_refresh, pattern_breaks_detect
from leads.models import Contact, Owner, PatternStatus
from tests.factories import CallRecordFactory, ContactFactory, OwnerFactory

pytestmark = pytest.mark.django_db


def calls_every(contact, *, days: list[int], now):
    for day in days:
        CallRecordFactory(contact=contact, started_at=now - timedelta(days=day, hours=1))


def status(contact) -> str:
    return Contact.objects.get(pk=contact.pk).pattern_status


def test_pattern_break_when_this_week_falls_below_half_the_usual_rate():
    now = timezone.now()
    steady = ContactFactory()  # twice a week for five weeks, including this week
    calls_every(steady, days=[2, 5, 9, 12, 16, 19, 23, 26, 30, 33], now=now)
    broken = ContactFactory()  # twice a week for four weeks, silent this week
    calls_every(broken, days=[9, 12, 16, 19, 23, 26, 30, 33], now=now)
    slowing = ContactFactory()  # three a week before, one this week (< 1.5)
    calls_every(slowing, days=[3, 8, 10, 12, 15, 17, 19, 22, 24, 26, 29, 31, 33], now=now)
    result = pattern_breaks_detect(now=now)
    assert status(steady) == PatternStatus.ON_TRACK
    assert status(broken) == PatternStatus.PATTERN_BREAK
    assert status(slowing) == PatternStatus.PATTERN_BREAK
    assert (result.breaks, result.on_track) == (2, 1)


def test_contacts_without_a_rhythm_are_not_flagged():
    now = timezone.now()
    new = ContactFactory()  # four calls, all in the last 20 days: no history yet
    calls_every(new, days=[8, 10, 15, 18], now=now)
    sparse = ContactFactory()  # two calls in a month
    calls_every(sparse, days=[12, 30], now=now)
    never = ContactFactory()
    pattern_breaks_detect(now=now)
    assert status(new) == status(sparse) == ""
    assert status(never) == ""


def test_detection_twice_changes_nothing_and_recovers_when_calls_resume():
    now = timezone.now()
    contact = ContactFactory()
    calls_every(contact, days=[9, 12, 16, 19, 23, 26, 30, 33], now=now)
    assert pattern_breaks_detect(now=now).changed == 1
    assert pattern_breaks_detect(now=now).changed == 0
    calls_every(contact, days=[1, 2], now=now)
    pattern_breaks_detect(now=now)
    assert status(contact) == PatternStatus.ON_TRACK


def test_a_status_whose_rhythm_ended_becomes_no_pattern():
    contact = ContactFactory(pattern_status=PatternStatus.PATTERN_BREAK)
    pattern_breaks_detect()
    assert status(contact) == PatternStatus.NO_PATTERN


def test_detection_query_count_does_not_grow_with_contacts(django_assert_max_num_queries):
    now = timezone.now()
    for _ in range(20):
        calls_every(ContactFactory(), days=[9, 12, 16, 19, 23, 26, 30, 33], now=now)
    # The aggregate, the status writes, the count, and the queue re-scoring (factors + one UPDATE).
    with django_assert_max_num_queries(10):
        pattern_breaks_detect(now=now)


def test_pattern_break_alerts_scoped_to_the_setter(setter, other_setter):
    mine = ContactFactory(owner=setter.owner, pattern_status=PatternStatus.PATTERN_BREAK)
    ContactFactory(owner=other_setter.owner, pattern_status=PatternStatus.PATTERN_BREAK)
    ContactFactory(owner=setter.owner, pattern_status=PatternStatus.ON_TRACK)
    assert pattern_break_alerts(user=setter, owner=None) == [mine]


def test_owner_rhythm_says_usual_days_and_since_when(settings):
    settings.TIME_ZONE = "Asia/Dubai"
    # Friday 2026-03-27, 10:00 Dubai; Sarah called every Tuesday and Thursday for four weeks,
    # but not this Tuesday or Thursday; her last call was on Monday 2026-03-23.
    friday = datetime(2026, 3, 27, 6, 0, tzinfo=UTC)
    sarah = OwnerFactory(first_name="Sarah")
    contact = ContactFactory(owner=sarah)
    for tuesday in (datetime(2026, 3, d, 7, 0, tzinfo=UTC) for d in (3, 10, 17)):
        CallRecordFactory(contact=contact, owner=sarah, started_at=tuesday)
        CallRecordFactory(contact=contact, owner=sarah, started_at=tuesday + timedelta(days=2))
    CallRecordFactory(contact=contact, owner=sarah, started_at=datetime(2026, 3, 23, 7, 0, tzinfo=UTC))
    steady = OwnerFactory(first_name="Omar")
    with time_machine.travel(friday, tick=False):
        assert owner_rhythms_refresh() == 1  # Omar has no rhythm: nothing to store
        rhythms = {
            r.owner.first_name: r
            for r in owner_rhythms(owners=Owner.objects.filter(pk__in=[sarah.pk, steady.pk]))
        }
    assert rhythms["Sarah"].usual_weekdays == [2, 4]
    assert rhythms["Sarah"].alert == "Sarah usually calls Tue/Thu, none since Monday"
    assert rhythms["Omar"].usual_weekdays == [] and rhythms["Omar"].alert == ""


def test_owner_rhythm_refresh_twice_changes_nothing_and_reading_costs_one_query(django_assert_num_queries):
    now = timezone.now()
    owner = OwnerFactory()
    contact = ContactFactory(owner=owner)
    for week in range(4):
        CallRecordFactory(contact=contact, owner=owner, started_at=now - timedelta(days=7 * week + 1))
    assert owner_rhythms_refresh(now=now) == 1
    assert owner_rhythms_refresh(now=now) == 0
    with django_assert_num_queries(1):
        owner_rhythms(owners=Owner.objects.all(), now=now)
