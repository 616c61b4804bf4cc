"""Statements compiled once and run with new values (crm.statements)."""

from datetime import timedelta

import pytest
from django.db.models import Max
from django.utils import timezone

from calls.models import CallRecord
from crm.statements import IdsIn, Statement, with_values_bound
from leads.models import Contact
from tests.factories import CallRecordFactory, ContactFactory
from tests.support import require_postgres

pytestmark = pytest.mark.django_db


def test_ids_in_binds_any_number_of_ids_to_the_same_sql():
    contacts = ContactFactory.create_batch(4)
    statement = Statement.compile(Contact.objects.filter(IdsIn("pk")).order_by("pk").values_list("pk"))

    assert statement.rows(ids=[contacts[1].pk, contacts[3].pk]) == [(contacts[1].pk,), (contacts[3].pk,)]
    assert statement.rows(ids=[c.pk for c in contacts] + list(range(10**6, 10**6 + 5000))) == [
        (c.pk,) for c in contacts
    ]
    assert statement.rows(ids=[]) == []
    assert statement.sql.count("%s") == 1


def test_rows_are_converted_as_the_queryset_converts_them():
    # SQLite returns an aggregate datetime as text; the queryset's converters make it aware.
    contact = ContactFactory()
    started = timezone.now() - timedelta(hours=3)
    CallRecordFactory(contact=contact, started_at=started)
    latest = (
        CallRecord.objects.values("contact_id")
        .annotate(latest=Max("started_at"))
        .values_list("latest")
        .order_by()
    )

    assert Statement.compile(latest.filter(IdsIn("contact_id"))).rows(ids=[contact.pk]) == [(started,)]
    assert list(latest.filter(contact_id=contact.pk)) == [(started,)]


@pytest.mark.postgres
def test_values_bound_stand_in_for_the_stored_ones_of_the_rows_bound():
    require_postgres()
    _unbound, bound = ContactFactory.create_batch(2)  # only the bound one is read
    contacts = Contact.objects.order_by("pk").values_list("pk", "call_count", "first_name")
    statement = Statement.compile(with_values_bound(contacts, ["call_count"]))

    assert statement.rows(rows=[(bound.pk, [5])]) == [(bound.pk, 5, bound.first_name)]
    assert Contact.objects.get(pk=bound.pk).call_count == 0  # read, not written
