"""Fair assignment: capacity-weighted, only available owners, a rolling 24-hour quota that carries
leads over, no catch-up burst after time away, best leads first, an audit row per allocation."""

from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from leads.assignment import OwnerSlot, allocation_plan, assignment_preview, contacts_assign, owner_slots
from leads.models import Contact, OwnerChange, OwnerChangeSource, Tier
from tests.factories import ContactFactory, OwnerFactory, UserFactory

pytestmark = pytest.mark.django_db

START = timezone.make_aware(datetime(2026, 3, 2, 9, 0))  # a Monday morning, business time


def waiting_leads(count: int, **fields) -> list[Contact]:
    return ContactFactory.create_batch(count, owner=None, **fields)


def received(owner, *, since: datetime, until: datetime) -> int:
    return OwnerChange.objects.filter(to_owner=owner, changed_at__gt=since, changed_at__lte=until).count()


def test_capacities_1_2_3_get_leads_in_that_ratio_over_many_runs():
    # given capacities 10, 20, 30 and 2 new leads every hour for three days (below every quota)
    owners = [OwnerFactory(daily_call_capacity=capacity) for capacity in (10, 20, 30)]
    # when
    for hour in range(72):
        waiting_leads(2)
        contacts_assign(at=START + timedelta(hours=hour))
    # then 144 leads in the exact ratio 1:2:3
    counts = [Contact.objects.filter(owner=owner).count() for owner in owners]
    assert counts == [24, 48, 72]


def test_away_and_inactive_owners_get_no_leads_and_nobody_exceeds_quota():
    present = OwnerFactory(daily_call_capacity=5)
    away = OwnerFactory(daily_call_capacity=50, away_until=START.date() + timedelta(days=2))
    gone = OwnerFactory(daily_call_capacity=50, is_active=False)
    no_capacity = OwnerFactory(daily_call_capacity=0)
    waiting_leads(20)

    result = contacts_assign(at=START)

    assert Contact.objects.filter(owner=present).count() == 5
    assert not Contact.objects.filter(owner__in=[away, gone, no_capacity]).exists()
    assert result.assigned == 5 and result.carried_over == 15
    assert Contact.objects.filter(owner__isnull=True).count() == 15


def test_away_until_is_the_last_day_away():
    owner = OwnerFactory(daily_call_capacity=5, away_until=START.date())
    waiting_leads(2)
    assert contacts_assign(at=START).assigned == 0
    assert contacts_assign(at=START + timedelta(days=1)).by_owner == {str(owner): 2}


def test_rolling_quota_carries_leads_over_instead_of_stranding_them():
    # given one owner with room for 10 a day and 25 leads at once
    owner = OwnerFactory(daily_call_capacity=10)
    waiting_leads(25)
    # when assigning every 30 minutes for three days
    moments = [START + timedelta(minutes=30 * step) for step in range(3 * 48)]
    for moment in moments:
        contacts_assign(at=moment)
        # then no rolling 24-hour window ever holds more than the quota
        assert received(owner, since=moment - timedelta(hours=24), until=moment) <= 10
    # and every lead got an owner in the end: 10 on day one, 10 on day two, 5 on day three
    assert not Contact.objects.filter(owner__isnull=True).exists()
    first_day = received(owner, since=START - timedelta(seconds=1), until=START + timedelta(hours=23))
    assert first_day == 10


def test_no_lead_is_left_unassigned_while_someone_has_room():
    small, big = OwnerFactory(daily_call_capacity=2), OwnerFactory(daily_call_capacity=6)
    waiting_leads(5)
    result = contacts_assign(at=START)
    # the small owner's quota does not hold leads back while the big owner has room
    assert result.assigned == 5 and result.carried_over == 0
    assert Contact.objects.filter(owner=small).count() + Contact.objects.filter(owner=big).count() == 5


def test_owner_back_from_time_away_gets_their_fair_share_not_a_catch_up_burst():
    # given two equal owners; one is away for three days while leads keep coming
    steady = OwnerFactory(daily_call_capacity=40)
    returning = OwnerFactory(daily_call_capacity=40, away_until=(START + timedelta(days=2)).date())
    for hour in range(0, 62, 2):  # Monday 09:00 to Wednesday 23:00
        waiting_leads(2)
        contacts_assign(at=START + timedelta(hours=hour))
    assert Contact.objects.filter(owner=returning).count() == 0
    # when the away owner is back and 20 more leads arrive in pairs
    back = START + timedelta(days=3)
    given = Counter()
    for step in range(10):
        waiting_leads(2)
        result = contacts_assign(at=back + timedelta(hours=step))
        given.update(result.by_owner)
    # then they split evenly (a counter would give the returning owner all 20 to catch up)
    assert given == {str(steady): 10, str(returning): 10}


def test_full_owner_rejoins_at_their_rate_once_their_quota_frees():
    tiny = OwnerFactory(daily_call_capacity=1)
    other = OwnerFactory(daily_call_capacity=1)
    waiting_leads(2)
    contacts_assign(at=START)
    # a day later both have room again; the next two leads go one each, not two to either
    waiting_leads(2)
    result = contacts_assign(at=START + timedelta(days=1, minutes=1))
    assert result.by_owner == {str(tiny): 1, str(other): 1}


def test_best_leads_go_first_when_there_is_not_room_for_all():
    OwnerFactory(daily_call_capacity=3)
    b_lead = ContactFactory(owner=None, tier=Tier.B)
    untiered = ContactFactory(owner=None, tier="")
    a_plus = ContactFactory(owner=None, tier=Tier.A_PLUS)
    a_lead = ContactFactory(owner=None, tier=Tier.A)

    result = contacts_assign(at=START)

    assert result.contact_ids == [a_plus.pk, a_lead.pk, b_lead.pk]
    assert Contact.objects.get(pk=untiered.pk).owner is None


def test_every_allocation_is_an_owner_change_with_source_assignment():
    owner = OwnerFactory(daily_call_capacity=10)
    user = UserFactory(username="ops-person")
    leads = waiting_leads(3)

    contacts_assign(at=START, changed_by=user, note="Bulk assignment")

    changes = OwnerChange.objects.filter(contact__in=leads)
    assert changes.count() == 3
    assert set(changes.values_list("source", "to_owner", "from_owner", "changed_by", "note")) == {
        (OwnerChangeSource.ASSIGNMENT, owner.pk, None, user.pk, "Bulk assignment")
    }
    assert set(
        Contact.objects.filter(pk__in=[c.pk for c in leads]).values_list("owner_changed_at", flat=True)
    ) == {START}


def test_given_contacts_move_only_when_unowned_or_owned_by_an_inactive_owner():
    OwnerFactory(daily_call_capacity=10)
    departed = OwnerFactory(is_active=False)
    kept_owner = OwnerFactory(daily_call_capacity=0)
    orphan = ContactFactory(owner=departed)
    owned = ContactFactory(owner=kept_owner)
    archived = ContactFactory(owner=None, is_archived=True)
    do_not_contact = ContactFactory(owner=None, do_not_contact=True)
    unowned = ContactFactory(owner=None)

    result = contacts_assign(
        contact_ids=[orphan.pk, owned.pk, archived.pk, do_not_contact.pk, unowned.pk], at=START
    )

    assert sorted(result.contact_ids) == sorted([orphan.pk, unowned.pk])
    assert Contact.objects.get(pk=owned.pk).owner == kept_owner
    assert OwnerChange.objects.get(contact=orphan).from_owner == departed


def test_manual_moves_count_toward_the_quota_but_hubspot_ones_do_not():
    owner = OwnerFactory(daily_call_capacity=3)
    for source in (OwnerChangeSource.MANUAL, OwnerChangeSource.SYNC, OwnerChangeSource.WEBHOOK):
        OwnerChange.objects.create(
            contact=ContactFactory(owner=owner),
            to_owner=owner,
            changed_at=START - timedelta(hours=1),
            source=source,
        )
    [slot] = owner_slots(at=START)
    assert slot.received_24h == 1 and slot.room == 2


def test_preview_says_what_assigning_would_do_and_writes_nothing():
    owner = OwnerFactory(daily_call_capacity=2)
    waiting_leads(3)

    preview = assignment_preview(new_lead_tiers=[Tier.A_PLUS], at=START)

    assert preview.by_owner == {str(owner): 2} and preview.carried_over == 2
    assert not OwnerChange.objects.exists()
    assert Contact.objects.filter(owner__isnull=True).count() == 3


def test_allocation_plan_is_deterministic_weighted_and_stops_at_the_room():
    slots = [
        OwnerSlot(owner_id=1, name="a", capacity=3, received_24h=0, finish=0.0),
        OwnerSlot(owner_id=2, name="b", capacity=6, received_24h=0, finish=0.0),
    ]
    plan = allocation_plan(lead_ids=list(range(12)), slots=slots, virtual_time=0.0)
    owners = [owner for _, owner in plan.allocations]
    assert Counter(owners) == {1: 3, 2: 6}
    # interleaved, not in blocks: the larger owner never gets more than two in a row
    assert "222" not in "".join(map(str, owners))
    assert plan.carried_over == [9, 10, 11]
    assert allocation_plan(lead_ids=list(range(12)), slots=slots, virtual_time=0.0) == plan


def test_assigning_twice_changes_nothing_the_second_time():
    OwnerFactory(daily_call_capacity=10)
    waiting_leads(4)
    contacts_assign(at=START)
    again = contacts_assign(at=START + timedelta(minutes=1))
    assert again.assigned == 0 and OwnerChange.objects.count() == 4


def test_away_until_is_a_date():
    assert OwnerFactory(away_until=date(2026, 3, 5)).away_until == date(2026, 3, 5)


def test_closed_leads_are_neither_stock_nor_handed_out():
    from campaigns.selectors import available_leads
    from leads.assignment import waiting_contacts
    from leads.models import LeadStatus

    open_lead = ContactFactory(owner=None)
    unqualified = ContactFactory(owner=None, lead_status=LeadStatus.UNQUALIFIED)
    assert set(waiting_contacts()) == {open_lead}
    assert unqualified not in set(available_leads())
