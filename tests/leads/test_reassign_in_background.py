"""Large reassignments move on the workers, in chunks, each move recorded once."""

import pytest
from django.urls import reverse

from leads import services
from leads.models import Contact, OwnerChange, OwnerChangeSource
from leads.services import contacts_reassign_now_or_queued
from leads.tasks import reassign_contacts_task
from tests.factories import ContactFactory
from tests.support import wait_for


@pytest.mark.django_db
def test_a_small_selection_moves_inside_the_request(setter, other_setter, django_capture_on_commit_callbacks):
    leads = ContactFactory.create_batch(3, owner=setter.owner)
    with django_capture_on_commit_callbacks() as queued:
        done = contacts_reassign_now_or_queued(contact_ids=[c.pk for c in leads], to_owner=other_setter.owner)
    assert (done.moved, done.queued, done.in_background) == (3, 0, False)
    assert queued == []  # nothing for the workers
    assert Contact.objects.filter(owner=other_setter.owner).count() == 3


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_large_selection_from_the_follow_up_table_moves_on_the_workers(
    celery_worker, monkeypatch, manager, manager_client, setter, other_setter
):
    monkeypatch.setattr(services, "REASSIGN_IN_REQUEST_MAX", 2)
    monkeypatch.setattr(services, "_REASSIGN_CHUNK", 2)  # three leads: two chunks
    leads = ContactFactory.create_batch(3, owner=setter.owner)
    response = manager_client.post(
        reverse("follow-up-reassign"),
        {"to_owner": other_setter.owner.pk, "contact": [c.pk for c in leads], "filters": ""},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "Moving 3 leads to" in response.content.decode()
    assert wait_for(lambda: Contact.objects.filter(owner=other_setter.owner).count() == 3)
    changes = OwnerChange.objects.filter(contact__in=leads)
    assert wait_for(lambda: changes.count() == 3)
    assert {(c.from_owner_id, c.to_owner_id, c.source, c.changed_by_id) for c in changes} == {
        (setter.owner.pk, other_setter.owner.pk, OwnerChangeSource.MANUAL, manager.pk)
    }


@pytest.mark.django_db
def test_a_repeated_chunk_records_nothing_twice(setter, other_setter):
    leads = ContactFactory.create_batch(2, owner=setter.owner)
    kwargs = {
        "contact_ids": [c.pk for c in leads],
        "to_owner_id": other_setter.owner.pk,
        "source": OwnerChangeSource.MANUAL,
        "changed_by_id": None,
        "note": "",
    }
    reassign_contacts_task.apply(kwargs=kwargs)
    reassign_contacts_task.apply(kwargs=kwargs)  # a retry after a crash
    assert OwnerChange.objects.filter(contact__in=leads).count() == 2


@pytest.mark.django_db
def test_admin_bulk_reassign_of_a_large_selection_says_it_runs_in_the_background(
    monkeypatch, admin_client_ops, setter, other_setter, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services, "REASSIGN_IN_REQUEST_MAX", 1)
    leads = ContactFactory.create_batch(2, owner=setter.owner)
    with django_capture_on_commit_callbacks() as queued:
        response = admin_client_ops.post(
            reverse("admin:leads_contact_changelist"),
            {
                "action": "reassign_owner",
                "_selected_action": [c.pk for c in leads],
                "apply": "1",
                "to_owner": other_setter.owner.pk,
                "note": "",
            },
            follow=True,
        )
    assert "Moving 2 contacts to" in response.content.decode()
    assert len(queued) == 1  # one chunk, sent to the workers once the request's transaction commits
