import pytest

from calls.services import call_log
from leads.selectors import calls_visible_to, contacts_visible_to, owner_for_user
from tests.factories import ContactFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_setter_sees_only_own_contacts_and_calls(setter, other_setter):
    mine = ContactFactory(owner=setter.owner)
    theirs = ContactFactory(owner=other_setter.owner)
    call_log(contact=mine, owner=setter.owner, status="answered")
    call_log(contact=theirs, owner=other_setter.owner, status="answered")
    assert list(contacts_visible_to(setter)) == [mine]
    assert [c.contact for c in calls_visible_to(setter)] == [mine]


def test_manager_sees_every_contact(manager, setter, other_setter):
    ContactFactory(owner=setter.owner)
    ContactFactory(owner=other_setter.owner)
    ContactFactory(owner=None)
    assert contacts_visible_to(manager).count() == 3


def test_user_without_owner_or_role_sees_nothing():
    ContactFactory()
    stranger = UserFactory()
    assert owner_for_user(stranger) is None
    assert contacts_visible_to(stranger).count() == 0
    assert calls_visible_to(stranger).count() == 0
