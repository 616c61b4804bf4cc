from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from leads.models import Contact, OwnerChange, OwnerChangeSource, Zone
from leads.services import contact_set_phones, contacts_reassign, health_score_record, health_zone_for
from tests.factories import ContactFactory, OwnerFactory

pytestmark = pytest.mark.django_db


def test_contacts_reassign_records_one_owner_change_per_moved_contact(manager):
    # given two contacts of Ann and one already Bob's
    ann, bob = OwnerFactory(), OwnerFactory()
    first, second = ContactFactory(owner=ann), ContactFactory(owner=ann)
    already = ContactFactory(owner=bob)
    # when
    moved = contacts_reassign(
        contact_ids=[first.pk, second.pk, already.pk], to_owner=bob, changed_by=manager, note="Ann on leave"
    )
    # then
    assert moved == 2
    assert set(Contact.objects.filter(owner=bob).values_list("pk", flat=True)) == {
        first.pk,
        second.pk,
        already.pk,
    }
    changes = OwnerChange.objects.order_by("contact_id")
    assert [(c.contact_id, c.from_owner_id, c.to_owner_id) for c in changes] == [
        (first.pk, ann.pk, bob.pk),
        (second.pk, ann.pk, bob.pk),
    ]
    assert {c.source for c in changes} == {OwnerChangeSource.MANUAL}
    assert {c.changed_by for c in changes} == {manager}
    first.refresh_from_db()
    assert first.owner_changed_at == changes[0].changed_at


def test_contacts_reassign_twice_changes_nothing_the_second_time():
    contact, bob = ContactFactory(), OwnerFactory()
    contacts_reassign(contact_ids=[contact.pk], to_owner=bob)
    assert contacts_reassign(contact_ids=[contact.pk], to_owner=bob) == 0
    assert OwnerChange.objects.count() == 1


def test_contacts_reassign_from_no_owner_records_empty_from():
    contact, bob = ContactFactory(owner=None), OwnerFactory()
    contacts_reassign(contact_ids=[contact.pk], to_owner=bob, source=OwnerChangeSource.REPLENISHMENT)
    change = OwnerChange.objects.get()
    assert change.from_owner is None and change.source == OwnerChangeSource.REPLENISHMENT


@pytest.mark.parametrize(
    ("score", "zone"),
    [
        (0, Zone.RED),
        (29, Zone.RED),
        (30, Zone.ORANGE),
        (49, Zone.ORANGE),
        (50, Zone.YELLOW),
        (69, Zone.YELLOW),
        (70, Zone.GREEN),
        (84, Zone.GREEN),
        (85, Zone.PURPLE),
        (100, Zone.PURPLE),
    ],
)
def test_health_zone_for_score_boundaries(score, zone):
    assert health_zone_for(score) == zone


def test_health_score_record_keeps_history_and_current_health_on_contact():
    contact = ContactFactory()
    now = timezone.now()
    health_score_record(
        contact=contact,
        score=80,
        predictive_risk=10,
        computed_at=now - timedelta(days=10),
        package_value=Decimal("12000"),
    )
    health_score_record(contact=contact, score=35, predictive_risk=70, computed_at=now)
    # a late-arriving older score joins the history but does not replace the current one
    health_score_record(contact=contact, score=90, computed_at=now - timedelta(days=5))
    contact.refresh_from_db()
    assert contact.health_scores.count() == 3
    assert (contact.health_score, contact.health_zone, contact.predictive_risk) == (35, Zone.ORANGE, 70)


def test_contact_set_phones_normalises_and_flags():
    contact = ContactFactory.build()
    contact_set_phones(contact, phone="050 123 4567", mobile="not a number")
    assert (contact.phone, contact.phone_is_valid) == ("+971501234567", True)
    assert (contact.mobile, contact.mobile_is_valid) == ("not a number", False)
