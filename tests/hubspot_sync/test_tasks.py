"""The sync task through a real Celery worker on Redis, the command, and the admin."""

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from hubspot_sync.models import SyncRun, SyncStatus
from hubspot_sync.tasks import sync_task
from leads.models import Contact, Deal, Owner
from tests.hubspot_sync.conftest import T0
from tests.hubspot_sync.world import portal
from tests.support import require_redis, wait_for


@pytest.mark.celery_worker
def test_sync_task_runs_end_to_end_in_a_real_worker(celery_worker, fake_hubspot):
    # given a portal in the fake; the worker thread sees the settings pointing at it
    portal(fake_hubspot, T0)

    # when
    sync_task.delay(object_types=["owners", "contacts", "deals"], full=True)

    # then
    assert wait_for(lambda: SyncRun.objects.filter(status=SyncStatus.SUCCEEDED).count() == 3)
    assert Owner.objects.filter(hubspot_id__in=["11", "12", "13"]).count() == 3
    assert Contact.objects.filter(hubspot_id__in=["101", "102", "103"]).count() == 3
    assert Deal.objects.get(hubspot_id="501").contact.hubspot_id == "101"

    # and the same task again changes nothing
    sync_task.delay(object_types=["contacts"], full=True)
    assert wait_for(lambda: SyncRun.objects.count() == 4 and SyncRun.objects.first().finished_at is not None)
    again = SyncRun.objects.first()
    assert (again.status, again.created, again.updated, again.unchanged) == (SyncStatus.SUCCEEDED, 0, 0, 3)


@pytest.mark.celery_worker
def test_sync_now_in_the_admin_starts_a_sync_in_the_worker(celery_worker, fake_hubspot, admin_client_ops):
    # given a run of contacts to select in the admin
    portal(fake_hubspot, T0)
    call_command("hubspot_sync", "--objects", "owners,contacts", verbosity=0)
    contacts_run = SyncRun.objects.get(object_type="contacts")
    fake_hubspot.put("contacts", "104", modified=T0, firstname="Dee")

    # when ops pick "sync now" on it
    response = admin_client_ops.post(
        "/admin/hubspot_sync/syncrun/", {"action": "full_sync_now", "_selected_action": [contacts_run.pk]}
    )

    # then the worker runs a sync of that type, which finds the new contact
    assert response.status_code == 302
    assert wait_for(
        lambda: SyncRun.objects.filter(object_type="contacts", status=SyncStatus.SUCCEEDED).count() == 2
    )
    assert Contact.objects.filter(hubspot_id="104").exists()


@pytest.mark.django_db
def test_the_command_prints_one_line_per_object_type(fake_hubspot, capsys):
    portal(fake_hubspot, T0)
    call_command("hubspot_sync", "--full", "--objects", "owners,contacts", verbosity=0)
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["owners", "contacts"]
    assert "full succeeded" in out[1] and "3 created" in out[1]


@pytest.mark.django_db
def test_the_command_rejects_unknown_types_and_a_switched_off_integration(fake_hubspot, settings):
    with pytest.raises(CommandError, match="Unknown object type"):
        call_command("hubspot_sync", "--objects", "contacts,companies")
    settings.HUBSPOT_ENABLED = False
    with pytest.raises(CommandError, match="HUBSPOT_ENABLED"):
        call_command("hubspot_sync")


@pytest.mark.django_db
def test_the_command_fails_loudly_when_a_sync_failed(fake_hubspot):
    fake_hubspot.fail(401, times=10)
    with pytest.raises(CommandError, match="failed"):
        call_command("hubspot_sync", "--objects", "owners", verbosity=0)
    assert SyncRun.objects.get().status == SyncStatus.FAILED


@pytest.mark.django_db
def test_ops_see_runs_in_the_admin_with_sync_now(
    admin_client_ops, fake_hubspot, django_assert_max_num_queries
):
    portal(fake_hubspot, T0)
    call_command("hubspot_sync", "--full", verbosity=0)
    with django_assert_max_num_queries(12):
        response = admin_client_ops.get("/admin/hubspot_sync/syncrun/")
    assert response.status_code == 200
    assert b"Sync everything now" in response.content
    assert response.content.count(b"Succeeded") >= 5
    assert admin_client_ops.get("/admin/hubspot_sync/synccursor/").status_code == 200
    assert admin_client_ops.get("/admin/hubspot_sync/webhookevent/").status_code == 200


@pytest.mark.django_db
def test_managers_read_runs_but_cannot_start_a_sync(manager_client):
    response = manager_client.get("/admin/hubspot_sync/syncrun/")
    assert response.status_code == 200
    assert b"Sync everything now" not in response.content
    assert manager_client.post("/admin/hubspot_sync/syncrun/sync-now/").status_code == 403


@pytest.mark.django_db
def test_default_schedules_are_staggered_and_expire_before_their_next_run():
    import json

    from django_celery_beat.models import PeriodicTask

    tasks = {
        t.name: t for t in PeriodicTask.objects.filter(task="hubspot_sync.sync").select_related("crontab")
    }
    incremental = {
        json.loads(t.kwargs)["object_types"][0]: t.crontab.minute
        for t in tasks.values()
        if "object_types" in t.kwargs
    }
    assert incremental["deals"] == "1,16,31,46"
    assert len(set(incremental.values())) == len(incremental)  # never together
    assert json.loads(tasks["HubSpot full reconcile"].kwargs) == {"full": True}
    assert all(
        t.expire_seconds and t.expire_seconds < 3600 for name, t in tasks.items() if "full" not in name
    )


@pytest.mark.django_db
def test_sync_now_says_hubspot_is_switched_off_and_queues_nothing(admin_client_ops, settings, monkeypatch):
    settings.HUBSPOT_ENABLED = False
    sent = []
    monkeypatch.setattr(sync_task, "delay", lambda **kwargs: sent.append(kwargs))

    response = admin_client_ops.post("/admin/hubspot_sync/syncrun/sync-now/", follow=True)

    assert "HubSpot is switched off" in response.content.decode()
    assert "queued; refresh" not in response.content.decode()
    assert sent == []


@pytest.mark.django_db
def test_sync_now_says_no_worker_is_running_and_queues_nothing(fake_hubspot, admin_client_ops, monkeypatch):
    # given a broker that answers, and no worker consuming the queue syncs are sent to (a queue of
    # this test's own: the session's test worker may be running on the run's queue)
    from crm import workers
    from hubspot_sync import admin

    require_redis(settings.CELERY_BROKER_URL)
    monkeypatch.setattr(
        admin, "worker_listening", lambda: workers.worker_listening(queue="nobody-consumes-this-queue")
    )
    sent = []
    monkeypatch.setattr(sync_task, "delay", lambda **kwargs: sent.append(kwargs))

    # when ops press "sync everything now"
    response = admin_client_ops.post("/admin/hubspot_sync/syncrun/sync-now/", follow=True)

    # then they are told, rather than promised a run
    page = response.content.decode()
    assert "No Celery worker answered" in page
    assert "queued; refresh" not in page
    assert sent == []


@pytest.mark.celery_worker
def test_sync_now_queues_when_a_worker_listens(celery_worker, fake_hubspot, admin_client_ops):
    portal(fake_hubspot, T0)

    response = admin_client_ops.post("/admin/hubspot_sync/syncrun/sync-now/", follow=True)

    assert "Incremental sync of everything queued" in response.content.decode()
    assert wait_for(lambda: SyncRun.objects.filter(status=SyncStatus.SUCCEEDED).count() >= 5)
