"""The stored queue score: what it holds, who keeps it current, and that the queue follows it."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from calls.models import CallStatus
from calls.services import call_log, queue_snooze
from leads.models import Contact, LifecycleStage, Zone
from leads.services import contacts_reassign, health_score_record
from scoring.models import PriorityFactor
from scoring.priority import factors_active, queue_score_expression
from scoring.services import queue_scores_refresh
from scoring.tasks import refresh_queue_scores_task
from tests.factories import ContactFactory, OwnerFactory
from tests.support import wait_for

pytestmark = pytest.mark.django_db


def stored(contact: Contact) -> int | None:
    return Contact.objects.values_list("queue_score", flat=True).get(pk=contact.pk)


def live(contact: Contact, *, now=None) -> int:
    """The score the factors give right now, evaluated in the query instead of read."""
    score = queue_score_expression(factors_active(now=now or timezone.now()))
    return Contact.objects.annotate(live=score).values_list("live", flat=True).get(pk=contact.pk)


def test_score_is_ten_times_the_live_raw_score():
    # base 3 + RED 3 + 14 days no contact 2 = 8 -> 80
    contact = ContactFactory(
        health_zone=Zone.RED, last_call_at=timezone.now() - timedelta(days=15), call_count=1
    )
    assert stored(contact) == live(contact) == 80


@pytest.mark.parametrize(
    "unworkable",
    [
        {"is_archived": True},
        {"do_not_contact": True},
        {"lifecycle_stage": LifecycleStage.SUBSCRIBER},
    ],
)
def test_contacts_that_are_never_queued_have_no_score(unworkable):
    assert stored(ContactFactory(**unworkable)) is None


def test_merged_contact_loses_its_score():
    survivor, duplicate = ContactFactory(), ContactFactory()
    Contact.objects.filter(pk=duplicate.pk).update(merged_into=survivor)
    assert queue_scores_refresh([duplicate.pk]) == 1
    assert stored(duplicate) is None


def test_refresh_writes_only_rows_whose_score_changed():
    ContactFactory.create_batch(3)
    assert queue_scores_refresh() == 0
    Contact.objects.update(health_zone=Zone.RED)  # behind the services' back
    assert queue_scores_refresh() == 3
    assert queue_scores_refresh() == 0


def stored_factors(contact: Contact) -> list[str]:
    return Contact.objects.values_list("queue_factors", flat=True).get(pk=contact.pk).split(",")[:-1]


def test_the_factors_that_hold_are_stored_with_the_score():
    contact = ContactFactory(
        health_zone=Zone.RED, last_call_at=timezone.now() - timedelta(days=15), call_count=1
    )
    assert stored_factors(contact) == ["base", "zone_red", "no_contact_14_days"]
    assert stored_factors(ContactFactory(do_not_contact=True)) == []  # in no queue


def test_refresh_rewrites_factors_that_changed_under_an_unchanged_score():
    # Two factors of equal weight trade places: 14 days without contact (+2) for risk 75+ (+2).
    contact = ContactFactory(last_call_at=timezone.now() - timedelta(days=15), call_count=1)
    score = stored(contact)
    Contact.objects.filter(pk=contact.pk).update(last_call_at=timezone.now(), predictive_risk=80)
    assert queue_scores_refresh() == 1
    assert stored(contact) == score
    assert "risk_75" in stored_factors(contact) and "no_contact_14_days" not in stored_factors(contact)


def test_time_alone_changes_the_score_at_the_next_refresh():
    # A new lead never called gets speed to lead (+6) for 24 hours, then "never called" (+1.5).
    now = timezone.now()
    lead = ContactFactory(hs_created_at=now - timedelta(hours=23))
    assert stored(lead) == 90
    assert queue_scores_refresh(now=now + timedelta(hours=2)) == 1
    assert stored(lead) == 45


def test_logging_a_call_rescores_the_contact():
    lead = ContactFactory(hs_created_at=timezone.now() - timedelta(minutes=5))
    assert stored(lead) == 90  # speed to lead
    call_log(contact=lead, owner=lead.owner, status=CallStatus.NO_ANSWER)
    assert stored(lead) == live(lead) == 30
    assert stored_factors(lead) == ["base"]


def test_snooze_reassign_and_health_rescore_the_contact():
    contact = ContactFactory()
    before = stored(contact)
    health_score_record(contact=contact, score=20)  # RED
    assert stored(contact) == before + 30
    contacts_reassign(contact_ids=[contact.pk], to_owner=OwnerFactory())
    assert stored(contact) == before + 30 + 15  # owner changed in the last 7 days
    queue_snooze(contact=contact, until=timezone.now() - timedelta(minutes=1))  # a lapsed snooze
    assert stored(contact) == live(contact) == before + 30 + 15 + 20  # follow-up due


def test_changing_a_weight_in_the_admin_rescores_everyone(admin_client):
    red = ContactFactory.create_batch(2, health_zone=Zone.RED)
    factor = PriorityFactor.objects.get(key="zone_red")
    response = admin_client.post(
        f"/admin/scoring/priorityfactor/{factor.pk}/change/",
        {
            "label": factor.label,
            "weight": "5",
            "threshold": "",
            "reason": factor.reason,
            "is_enabled": "on",
            "position": factor.position,
        },
        follow=True,
    )
    assert response.status_code == 200
    assert "Queue re-scored: 2 contacts changed priority." in response.content.decode()
    assert [stored(c) for c in red] == [95, 95]  # base 3 + RED 5 + never called 1.5


def test_admin_marking_do_not_contact_takes_the_contact_out_of_every_queue(admin_client):
    contact = ContactFactory()
    assert stored(contact) is not None
    page = admin_client.get(f"/admin/leads/contact/{contact.pk}/change/")
    form = page.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data.update({"do_not_contact": "on", "owner": contact.owner_id})
    for name in ("is_archived", "phone_opt_out", "whatsapp_opt_out", "email_opt_out", "sms_opt_out"):
        data.pop(name, None)  # unchecked boxes are absent from a real form post
    for prefix in ("queue_state", "deals", "tasks"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    response = admin_client.post(f"/admin/leads/contact/{contact.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert stored(contact) is None


def test_factor_admin_offers_no_add_or_delete(admin_client):
    assert admin_client.get("/admin/scoring/priorityfactor/add/").status_code == 403
    factor = PriorityFactor.objects.first()
    assert admin_client.get(f"/admin/scoring/priorityfactor/{factor.pk}/delete/").status_code == 403


def test_weights_are_stored_exactly():
    # 2.5 (ORANGE) + 1.5 (never called) + base 3 = 7.0 -> 70, no float drift in the stored score
    PriorityFactor.objects.filter(key="zone_orange").update(weight=Decimal("2.5"))
    contact = ContactFactory(health_zone=Zone.ORANGE)
    assert stored(contact) == 70


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_refresh_task_runs_on_a_real_worker(celery_worker):
    contact = ContactFactory()
    Contact.objects.filter(pk=contact.pk).update(health_zone=Zone.RED)
    refresh_queue_scores_task.delay()
    assert wait_for(lambda: stored(contact) == live(contact))
    # a second run finds nothing to change
    refresh_queue_scores_task.delay([contact.pk])
    time.sleep(0.5)
    assert stored(contact) == live(contact)


def test_refresh_for_a_given_moment_counts_days_from_that_moment():
    # Called 10 days ago: "7 days no contact" now (+1.5), "14 days" five days from now (+2).
    now = timezone.now()
    contact = ContactFactory(last_call_at=now - timedelta(days=10), call_count=1)
    assert stored(contact) == 45
    queue_scores_refresh(now=now + timedelta(days=5))
    assert stored(contact) == live(contact, now=now + timedelta(days=5)) == 50


def test_a_weight_threshold_or_switch_changed_in_the_database_counts_at_the_next_refresh():
    # The refresh compiles its statement once and keeps it: the factor rows are its key.
    now = timezone.now()
    red = ContactFactory(health_zone=Zone.RED, last_call_at=now - timedelta(days=11), call_count=1)
    assert stored(red) == 30 + 30 + 15  # base, RED, 7 days no contact
    PriorityFactor.objects.filter(key="zone_red").update(weight=Decimal("5"))
    assert queue_scores_refresh([red.pk]) == 1
    assert stored(red) == live(red) == 30 + 50 + 15
    PriorityFactor.objects.filter(key="no_contact_14_days").update(threshold=Decimal("10"))
    assert queue_scores_refresh([red.pk]) == 1
    assert stored(red) == live(red) == 30 + 50 + 20  # 10 days now supersedes 7
    PriorityFactor.objects.filter(key="base").update(is_enabled=False)
    assert queue_scores_refresh([red.pk]) == 1
    assert stored(red) == live(red) == 50 + 20
    assert stored_factors(red) == ["zone_red", "no_contact_14_days"]


def test_each_refresh_scores_for_its_own_moment():
    # The moments the factors compare with are bound at each run, never kept from the first.
    now = timezone.now()
    lead = ContactFactory(hs_created_at=now - timedelta(hours=23))
    assert queue_scores_refresh([lead.pk], now=now + timedelta(hours=2)) == 1
    assert stored(lead) == 45  # no longer a new lead
    assert queue_scores_refresh([lead.pk], now=now) == 1
    assert stored(lead) == 90  # a new lead again, as of `now`
    assert queue_scores_refresh(now=now + timedelta(hours=2)) == 1
    assert stored(lead) == 45


def test_refresh_query_count_does_not_grow_with_contacts(django_assert_num_queries):
    small, large = ContactFactory.create_batch(3), ContactFactory.create_batch(30)
    Contact.objects.update(health_zone=Zone.RED)
    for batch in (small, large):
        # the factor rows; savepoint, one UPDATE, the owners' figures, release
        with django_assert_num_queries(5):
            assert queue_scores_refresh([c.pk for c in batch]) == len(batch)
