"""Database constraints hold even when code bypasses services (bulk imports, raw updates)."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from calls.models import CallOutcome, CallSource, CallStatus, InterventionOutcome, InterventionStatus
from leads.models import Contact, OwnerChangeSource, TaskStatus
from tests.factories import (
    CallRecordFactory,
    ContactFactory,
    DealFactory,
    HealthScoreFactory,
    InterventionFactory,
    OwnerFactory,
    TaskFactory,
)

pytestmark = pytest.mark.django_db


def _violates(factory, **kwargs):
    with pytest.raises(IntegrityError), transaction.atomic():
        factory(**kwargs)


def test_contact_hubspot_id_is_unique_but_optional():
    ContactFactory(hubspot_id="1")
    ContactFactory(hubspot_id=None)
    ContactFactory(hubspot_id=None)
    _violates(ContactFactory, hubspot_id="1")


def test_contact_scores_stay_within_0_100():
    _violates(ContactFactory, health_score=101)
    _violates(ContactFactory, predictive_risk=150)


def test_contact_answered_calls_cannot_exceed_calls():
    contact = ContactFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.filter(pk=contact.pk).update(call_count=1, answered_call_count=2)


def test_contact_cannot_be_merged_into_itself():
    contact = ContactFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.filter(pk=contact.pk).update(merged_into=contact)


def test_call_external_id_is_unique_per_source_and_blank_allowed_many_times():
    CallRecordFactory(source=CallSource.HUBSPOT, external_id="c-1")
    CallRecordFactory(source=CallSource.TWILIO, external_id="c-1")
    CallRecordFactory(external_id="")
    CallRecordFactory(external_id="")
    _violates(CallRecordFactory, source=CallSource.HUBSPOT, external_id="c-1")


def test_call_booked_outcome_needs_an_answered_call():
    CallRecordFactory(status=CallStatus.ANSWERED, outcome=CallOutcome.BOOKED)
    CallRecordFactory(status=CallStatus.NO_ANSWER, outcome=CallOutcome.LEFT_MESSAGE)
    _violates(CallRecordFactory, status=CallStatus.NO_ANSWER, outcome=CallOutcome.BOOKED)


def test_deal_amount_not_negative_and_won_means_closed():
    _violates(DealFactory, amount=-1)
    _violates(DealFactory, is_won=True, is_closed=False)
    DealFactory(is_won=True, is_closed=True)


def test_task_completed_at_only_on_completed_tasks():
    TaskFactory(status=TaskStatus.COMPLETED, completed_at=timezone.now())
    _violates(TaskFactory, status=TaskStatus.NOT_STARTED, completed_at=timezone.now())


def test_health_score_bounds_and_one_row_per_moment():
    moment = timezone.now()
    health = HealthScoreFactory(computed_at=moment)
    _violates(HealthScoreFactory, contact=health.contact, computed_at=moment)
    _violates(HealthScoreFactory, score=101)
    _violates(HealthScoreFactory, predictive_risk=101)


def test_intervention_only_one_open_per_contact_and_type():
    first = InterventionFactory()
    _violates(InterventionFactory, contact=first.contact, intervention_type=first.intervention_type)
    # once done, a new one of the same type may open
    first.status, first.outcome = InterventionStatus.DONE, InterventionOutcome.SUCCESS
    first.save()
    InterventionFactory(contact=first.contact, intervention_type=first.intervention_type)


def test_intervention_has_an_outcome_exactly_when_done():
    _violates(InterventionFactory, status=InterventionStatus.DONE, outcome="")
    _violates(InterventionFactory, status=InterventionStatus.OPEN, outcome=InterventionOutcome.FAILED)


def test_owner_change_recorded_once_per_change():
    from leads.models import OwnerChange

    contact, owner = ContactFactory(), OwnerFactory()
    at = timezone.now() - timedelta(days=1)
    OwnerChange.objects.create(contact=contact, to_owner=owner, changed_at=at, source=OwnerChangeSource.SYNC)
    with pytest.raises(IntegrityError), transaction.atomic():
        OwnerChange.objects.create(
            contact=contact, to_owner=owner, changed_at=at, source=OwnerChangeSource.SYNC
        )
