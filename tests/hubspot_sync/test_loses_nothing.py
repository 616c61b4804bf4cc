"""The sync loses nothing (SPEC S5): one test per way it used to lose data, each failing on the
sync as it was before (children skipped for good, 429 bursts failing a type, a resumed full
sync reporting success while stale, a killed run's lock, stale call facts, archiving missed by
incremental runs, archived contacts' owner history, QUEUED calls counted as attempts, losses
reported as success)."""

import logging
from datetime import timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils.timezone import now as timezone_now

from calls.models import CallRecord, CallStatus, ScheduledCall
from hubspot_sync import services
from hubspot_sync.models import ParkedRecord, SyncCursor, SyncMode, SyncRun, SyncStatus
from leads.models import Contact, Deal, OwnerChange, Task
from tests.fakes.hubspot_server import iso
from tests.hubspot_sync.conftest import T0
from tests.hubspot_sync.world import CONNECTED, portal
from tests.support import wait_for

pytestmark = pytest.mark.django_db

FIRST_RUN = T0 + timedelta(hours=1)
SECOND_RUN = T0 + timedelta(hours=2)
THIRD_RUN = T0 + timedelta(hours=3)


class ProcessKilled(BaseException):
    """What `kill -9` leaves behind, in process: nothing of the sync's own cleanup runs (it handles
    Exception only), open transactions roll back, the lock stays held and the run 'running'."""


def _sync(hubspot, *, full=False, at=FIRST_RUN, types=None):
    with time_machine.travel(at, tick=True):
        return {r.object_type: r for r in services.sync_all(full=full, client=hubspot, object_types=types)}


def _call(fake, call_id, contact_id, *, modified, status="COMPLETED", disposition=CONNECTED, **extra):
    fake.put(
        "calls",
        call_id,
        modified=modified,
        hs_timestamp=iso(modified - timedelta(minutes=5)),
        hs_call_direction="OUTBOUND",
        hs_call_status=status,
        hs_call_duration="60000" if status == "COMPLETED" else "0",
        hs_call_disposition=disposition,
        hubspot_owner_id="11",
        contacts=[contact_id] if contact_id else [],
        **extra,
    )


def _kill_at(hubspot, request_number):
    """Raise ProcessKilled when the client is about to send its n-th request from now on."""
    sent = {"n": 0}
    original = hubspot.session.request

    def request(*args, **kwargs):
        sent["n"] += 1
        if sent["n"] == request_number:
            raise ProcessKilled
        return original(*args, **kwargs)

    hubspot.session.request = request
    return lambda: setattr(hubspot.session, "request", original)


# --- 1. a child whose contact is not here yet ------------------------------------------------------
def test_a_call_and_task_whose_contact_came_after_the_contacts_pass_are_stored_with_it(fake_hubspot, hubspot):
    # given everything synced, then a new contact in HubSpot with a call and a task, after the
    # contacts pass of the next round already ran
    portal(fake_hubspot, T0)
    _sync(hubspot, full=True)
    _sync(hubspot, types=["contacts"], at=SECOND_RUN)
    new_at = SECOND_RUN + timedelta(minutes=1)
    fake_hubspot.put("contacts", "104", modified=new_at, firstname="Dee", hubspot_owner_id="12")
    _call(fake_hubspot, "804", "104", modified=new_at)
    fake_hubspot.put(
        "tasks",
        "904",
        modified=new_at,
        hs_timestamp=iso(new_at),
        hs_task_subject="Call Dee",
        contacts=["104"],
    )

    # when calls and tasks sync more than the overlap later
    runs = _sync(hubspot, types=["calls", "tasks"], at=new_at + timedelta(minutes=15))

    # then both are stored on the contact, read by id at once, with its facts
    assert {t: (r.status, r.parents_fetched, r.parked) for t, r in runs.items()} == {
        "calls": (SyncStatus.SUCCEEDED, 1, 0),
        "tasks": (SyncStatus.SUCCEEDED, 0, 0),  # the calls run stored Dee already
    }
    dee = Contact.objects.get(hubspot_id="104")
    assert (dee.first_name, dee.owner.hubspot_id, dee.call_count) == ("Dee", "12", 1)
    assert CallRecord.objects.get(external_id="804").contact == dee
    assert Task.objects.get(hubspot_id="904").contact == dee


def test_a_call_whose_contact_hubspot_cannot_give_is_parked_then_stored_once_it_can(fake_hubspot, hubspot):
    # given a call on a contact HubSpot does not have (yet), and one with no contact at all
    portal(fake_hubspot, T0)
    _sync(hubspot, full=True)
    _call(fake_hubspot, "850", "999", modified=FIRST_RUN + timedelta(minutes=1))
    _call(fake_hubspot, "851", None, modified=FIRST_RUN + timedelta(minutes=1))

    # when the calls sync runs
    run = _sync(hubspot, types=["calls"], at=SECOND_RUN)["calls"]

    # then both wait, visible, and the run says it is not complete; the cursor moved on
    assert (run.status, run.parked) == (SyncStatus.INCOMPLETE, 2)
    parked = dict(ParkedRecord.objects.values_list("hubspot_id", "reason"))
    assert parked == {
        "850": "contact 999 not found in HubSpot (active or archived)",
        "851": "no contact association in HubSpot",
    }
    assert SyncCursor.objects.get(object_type="calls").modified_after == run.started_at

    # when the contact appears and the other call gets an association (neither changes the calls'
    # modified date, so no search brings them)
    fake_hubspot.put("contacts", "999", modified=SECOND_RUN + timedelta(minutes=1), firstname="Late")
    fake_hubspot.associate("calls", "851", "contacts", "101")
    run = _sync(hubspot, types=["calls"], at=THIRD_RUN)["calls"]

    # then the parked calls are stored by the retry, and nothing waits any more
    assert (run.status, run.parked, run.created) == (SyncStatus.SUCCEEDED, 0, 2)
    assert CallRecord.objects.get(external_id="850").contact.hubspot_id == "999"
    assert CallRecord.objects.get(external_id="851").contact.hubspot_id == "101"
    assert not ParkedRecord.objects.exists()


def test_a_parked_record_hubspot_deleted_is_dropped(fake_hubspot, hubspot):
    portal(fake_hubspot, T0)
    _sync(hubspot, full=True)
    _call(fake_hubspot, "850", "999", modified=FIRST_RUN + timedelta(minutes=1))
    _sync(hubspot, types=["calls"], at=SECOND_RUN)
    del fake_hubspot.store.objects["calls"]["850"]

    run = _sync(hubspot, types=["calls"], at=THIRD_RUN)["calls"]

    assert (run.status, run.parked) == (SyncStatus.SUCCEEDED, 0)
    assert not ParkedRecord.objects.exists()


def test_when_the_contacts_pass_fails_the_calls_pass_still_stores_every_call(fake_hubspot, hubspot):
    # given HubSpot failing every contacts list page on the first full sync
    portal(fake_hubspot, T0)
    fake_hubspot.fail(500, times=100, match=lambda r: r.path.endswith("/objects/contacts"))

    # when
    runs = _sync(hubspot, full=True)

    # then contacts failed, but calls and tasks read their contacts by id and lost nothing
    assert runs["contacts"].status == SyncStatus.FAILED
    assert (runs["calls"].status, runs["tasks"].status) == (SyncStatus.SUCCEEDED, SyncStatus.SUCCEEDED)
    assert CallRecord.objects.count() == 3
    assert Task.objects.filter(contact__isnull=True).count() == 0
    assert Contact.objects.get(hubspot_id="101").call_count == 2


# --- 2. a 429 burst longer than the retries ----------------------------------------------------
def test_a_429_burst_longer_than_the_retries_slows_the_sync_down_instead_of_failing_it(
    fake_hubspot, hubspot, sleeps
):
    portal(fake_hubspot, T0)
    fake_hubspot.rate_limit(
        "TEN_SECONDLY_ROLLING", times=12, match=lambda r: r.path.endswith("/objects/contacts")
    )

    runs = _sync(hubspot, full=True)

    assert {r.status for r in runs.values()} == {SyncStatus.SUCCEEDED}
    assert (runs["contacts"].rate_limited, runs["contacts"].waited_seconds) == (12, 120.0)
    assert Contact.objects.count() == 3


# --- 3. "succeeded" means complete --------------------------------------------------------------------
def test_a_resumed_full_sync_catches_up_on_what_changed_since_it_first_started(fake_hubspot, hubspot):
    # given 120 contacts, a full sync failing on its second page
    fake_hubspot.add_owner("11")
    fake_hubspot.add_owner("12")
    for i in range(120):
        fake_hubspot.put("contacts", str(1000 + i), modified=T0, firstname=f"N{i}", hubspot_owner_id="11")
    fake_hubspot.fail(502, times=10, match=lambda r: r.path.endswith("/contacts") and "after" in r.query)
    failed = _sync(hubspot, full=True, types=["owners", "contacts"])["contacts"]
    assert (failed.status, Contact.objects.count()) == (SyncStatus.FAILED, 50)

    # when a contact of the stored first page is renamed and moved, then the sync resumes
    fake_hubspot.put(
        "contacts",
        "1000",
        modified=FIRST_RUN + timedelta(minutes=5),
        firstname="Renamed",
        hubspot_owner_id="12",
    )
    fake_hubspot.scripted.clear()
    resumed = _sync(hubspot, types=["contacts"], at=SECOND_RUN)["contacts"]

    # then success means the change made before the resumed run started is stored
    assert (resumed.mode, resumed.status) == (SyncMode.FULL, SyncStatus.SUCCEEDED)
    renamed = Contact.objects.get(hubspot_id="1000")
    assert (renamed.first_name, renamed.owner.hubspot_id) == ("Renamed", "12")
    assert OwnerChange.objects.filter(contact=renamed, to_owner__hubspot_id="12").count() == 1
    assert SyncCursor.objects.get(object_type="contacts").modified_after == resumed.started_at


# --- 4. a lock that dies with its holder ----------------------------------------------------------
def test_a_killed_sync_holds_its_type_only_for_one_lease_and_its_run_is_then_marked_failed(
    fake_hubspot, hubspot, settings
):
    # given a contacts sync killed in the middle of its pages
    for i in range(120):
        fake_hubspot.put("contacts", str(1000 + i), modified=T0, firstname=f"N{i}")
    restore = _kill_at(hubspot, 2)
    with time_machine.travel(FIRST_RUN, tick=True), pytest.raises(ProcessKilled):
        services.sync_run(object_type="contacts", full=True, client=hubspot)
    restore()
    dead = SyncRun.objects.get()
    assert dead.status == SyncStatus.RUNNING
    assert SyncCursor.objects.get(object_type="contacts").locked_by

    # when a run starts within the lease, it does not run, and the command says so, non-zero
    with time_machine.travel(FIRST_RUN + timedelta(seconds=30), tick=True):
        with pytest.raises(services.SyncLocked, match="last heartbeat"):
            services.sync_run(object_type="contacts", client=hubspot)
        with pytest.raises(CommandError, match="contacts did not run"):
            call_command("hubspot_sync", objects="contacts", verbosity=0)

    # when the lease has run out, the next run takes over, marks the dead one failed, finishes
    later = FIRST_RUN + timedelta(seconds=settings.HUBSPOT_SYNC_LOCK_LEASE_SECONDS + 1)
    with time_machine.travel(later, tick=True):
        run = services.sync_run(object_type="contacts", client=hubspot)
    dead.refresh_from_db()
    assert (dead.status, run.status, run.mode) == (SyncStatus.FAILED, SyncStatus.SUCCEEDED, SyncMode.FULL)
    assert "Stopped without finishing" in dead.last_error
    assert Contact.objects.count() == 120
    assert SyncCursor.objects.get(object_type="contacts").locked_by == ""


def test_ops_release_a_lock_and_its_holder_stops_before_storing_another_page(fake_hubspot, hubspot):
    # given a running contacts sync that ops release between two of its pages
    for i in range(120):
        fake_hubspot.put("contacts", str(1000 + i), modified=T0, firstname=f"N{i}")

    def release_once(response, *args, **kwargs):
        if "after" in response.request.url and services.sync_lock_release(object_type="contacts"):
            hubspot.session.hooks["response"].remove(release_once)

    hubspot.session.hooks["response"].append(release_once)

    # when
    run = _sync(hubspot, full=True, types=["contacts"])["contacts"]

    # then the run failed at its next page, storing nothing more, and the type is free
    assert run.status == SyncStatus.FAILED
    assert "lost its lock" in run.last_error
    assert Contact.objects.count() == 50
    assert _sync(hubspot, types=["contacts"], at=SECOND_RUN)["contacts"].status == SyncStatus.SUCCEEDED
    assert Contact.objects.count() == 120


def test_ops_release_a_lock_in_the_admin(fake_hubspot, hubspot, client, ops_user):
    services._lock_claim("deals")
    client.force_login(ops_user)
    cursor = SyncCursor.objects.get(object_type="deals")

    response = client.post(
        "/admin/hubspot_sync/synccursor/",
        {"action": "release_lock", "_selected_action": [cursor.pk]},
        follow=True,
    )

    assert "Released the lock of deals" in response.content.decode()
    assert SyncCursor.objects.get(object_type="deals").locked_by == ""


def test_managers_cannot_release_a_lock(fake_hubspot, manager):
    from django.test import Client

    services._lock_claim("deals")
    browser = Client()
    browser.force_login(manager)
    cursor = SyncCursor.objects.get(object_type="deals")
    browser.post(
        "/admin/hubspot_sync/synccursor/", {"action": "release_lock", "_selected_action": [cursor.pk]}
    )
    assert SyncCursor.objects.get(object_type="deals").locked_by != ""


# --- 5. call facts never stale after a crash ---------------------------------------------------------
def test_a_sync_killed_mid_pages_leaves_every_stored_calls_facts_right(fake_hubspot, hubspot):
    # given 60 contacts with 3 calls each, synced on a full calls pass that is killed after its
    # first pages
    fake_hubspot.add_owner("11")
    for i in range(60):
        fake_hubspot.put("contacts", str(2000 + i), modified=T0, firstname=f"C{i}", hubspot_owner_id="11")
    for n in range(180):
        _call(fake_hubspot, str(7000 + n), str(2000 + n % 60), modified=T0 + timedelta(seconds=n))
    _sync(hubspot, full=True, types=["owners", "contacts"])
    restore = _kill_at(hubspot, 3)
    with time_machine.travel(FIRST_RUN, tick=True), pytest.raises(ProcessKilled):
        services.sync_run(object_type="calls", full=True, client=hubspot)
    restore()

    # then whatever calls are stored, each contact's facts count exactly those
    assert 0 < CallRecord.objects.count() < 180
    for contact in Contact.objects.all():
        calls = CallRecord.objects.filter(contact=contact)
        latest = calls.order_by("-started_at").first()
        assert (contact.call_count, contact.last_call_at) == (
            calls.count(),
            latest.started_at if latest else None,
        ), contact.hubspot_id


# --- 6. archived after the first sync ---------------------------------------------------------------
def test_records_archived_after_the_first_sync_are_marked_by_the_next_incremental_run(fake_hubspot, hubspot):
    # given a synced portal, then a contact, a deal and a task archived in HubSpot (which changes
    # no modified date), and a contact created and archived between two runs
    portal(fake_hubspot, T0)
    _sync(hubspot, full=True)
    for object_type, record_id in (("contacts", "103"), ("deals", "501"), ("tasks", "901")):
        fake_hubspot.archive(object_type, record_id)
    fake_hubspot.put("contacts", "105", modified=FIRST_RUN + timedelta(minutes=3), firstname="Brief")
    fake_hubspot.archive("contacts", "105")

    # when
    runs = _sync(hubspot, at=SECOND_RUN)

    # then
    assert {r.status for r in runs.values()} == {SyncStatus.SUCCEEDED}
    assert Contact.objects.get(hubspot_id="103").is_archived
    assert Contact.objects.get(hubspot_id="105").is_archived
    assert Deal.objects.get(hubspot_id="501").is_archived
    assert Task.objects.get(hubspot_id="901").is_archived
    assert Contact.objects.get(hubspot_id="101").next_task_due_at is None  # its only open task went

    # and a run after that reads the archived list again but changes nothing
    again = _sync(hubspot, at=THIRD_RUN)
    assert sum(r.created + r.updated for r in again.values()) == 0


# --- 7. owner history of archived contacts ---------------------------------------------------------
def test_a_full_sync_records_the_owner_history_of_archived_contacts(fake_hubspot, hubspot):
    fake_hubspot.add_owner("11")
    fake_hubspot.add_owner("12")
    fake_hubspot.put("contacts", "301", modified=T0 - timedelta(days=3), hubspot_owner_id="11")
    fake_hubspot.put("contacts", "301", modified=T0 - timedelta(days=2), hubspot_owner_id="12")
    fake_hubspot.archive("contacts", "301")

    _sync(hubspot, full=True, types=["owners", "contacts"])

    change = OwnerChange.objects.get(contact__hubspot_id="301")
    assert (change.from_owner.hubspot_id, change.to_owner.hubspot_id) == ("11", "12")
    assert change.changed_at == T0 - timedelta(days=2)


def test_contacts_new_to_an_incremental_run_bring_their_owner_history(fake_hubspot, hubspot):
    portal(fake_hubspot, T0)
    _sync(hubspot, full=True)
    fake_hubspot.put("contacts", "106", modified=FIRST_RUN + timedelta(minutes=1), hubspot_owner_id="11")
    fake_hubspot.put("contacts", "106", modified=FIRST_RUN + timedelta(minutes=2), hubspot_owner_id="12")

    run = _sync(hubspot, types=["contacts"], at=SECOND_RUN)["contacts"]

    assert run.owner_changes == 1
    change = OwnerChange.objects.get(contact__hubspot_id="106")
    assert (change.from_owner.hubspot_id, change.to_owner.hubspot_id) == ("11", "12")


# --- 8. QUEUED calls have not happened ------------------------------------------------------------
def test_a_queued_call_counts_for_nothing_until_it_happens(fake_hubspot, hubspot, admin_client_ops):
    # given a synced portal and a call HubSpot has QUEUED for Cy (103, one call so far)
    portal(fake_hubspot, T0)
    _sync(hubspot, full=True)
    cy = Contact.objects.get(hubspot_id="103")
    before = (cy.call_count, cy.last_call_at, cy.queue_score)
    _call(
        fake_hubspot, "860", "103", modified=FIRST_RUN + timedelta(minutes=1), status="QUEUED", disposition=""
    )

    # when
    _sync(hubspot, types=["calls"], at=SECOND_RUN)

    # then it is a scheduled call, not an attempt
    cy.refresh_from_db()
    assert (cy.call_count, cy.last_call_at, cy.queue_score) == before
    assert not CallRecord.objects.filter(external_id="860").exists()
    planned = ScheduledCall.objects.get(hubspot_id="860")
    assert planned.contact == cy
    assert "860" in admin_client_ops.get("/admin/calls/scheduledcall/").content.decode()

    # when the call happens
    _call(fake_hubspot, "860", "103", modified=SECOND_RUN + timedelta(minutes=1))
    _sync(hubspot, types=["calls"], at=THIRD_RUN)

    # then it is a call like any other, and no longer planned
    cy.refresh_from_db()
    assert cy.call_count == before[0] + 1
    assert CallRecord.objects.get(external_id="860").status == CallStatus.ANSWERED
    assert not ScheduledCall.objects.exists()


def test_a_queued_call_an_older_sync_stored_as_unanswered_becomes_scheduled(fake_hubspot, hubspot):
    portal(fake_hubspot, T0)
    _sync(hubspot, full=True)
    ali = Contact.objects.get(hubspot_id="101")
    _call(
        fake_hubspot, "861", "101", modified=FIRST_RUN + timedelta(minutes=1), status="QUEUED", disposition=""
    )
    CallRecord.objects.create(
        contact=ali,
        status=CallStatus.NO_ANSWER,
        started_at=FIRST_RUN,
        source="hubspot",
        external_id="861",
    )

    _sync(hubspot, full=True, types=["calls"], at=SECOND_RUN)

    assert not CallRecord.objects.filter(external_id="861").exists()
    assert ScheduledCall.objects.filter(hubspot_id="861").exists()
    ali.refresh_from_db()
    assert ali.call_count == 2


# --- 9. say what went wrong ----------------------------------------------------------------------
def test_the_command_fails_and_names_parked_records_and_logs_one_summary(fake_hubspot, hubspot, caplog):
    portal(fake_hubspot, T0)
    _sync(hubspot, full=True)
    for n in range(30):
        _call(fake_hubspot, str(8700 + n), "999", modified=FIRST_RUN + timedelta(minutes=1, seconds=n))

    with (
        caplog.at_level(logging.INFO, logger="hubspot_sync"),
        time_machine.travel(SECOND_RUN, tick=True),
        pytest.raises(CommandError, match=r"calls: 30 records parked"),
    ):
        call_command("hubspot_sync", objects="calls", verbosity=0)

    run = SyncRun.objects.filter(object_type="calls").latest("started_at")
    assert (run.status, run.parked) == (SyncStatus.INCOMPLETE, 30)
    summaries = [r for r in caplog.records if r.msg == "hubspot.sync_finished"]
    assert len(summaries) == 1
    assert summaries[0].levelno == logging.WARNING
    assert summaries[0].parked_sample == [str(8700 + n) for n in range(10)]
    assert not [r for r in caplog.records if r.msg == "hubspot.call_skipped"]


def test_ops_see_parked_records_with_their_reason_in_the_admin(
    fake_hubspot, hubspot, admin_client_ops, django_assert_max_num_queries
):
    portal(fake_hubspot, T0)
    _sync(hubspot, full=True)
    _call(fake_hubspot, "850", "999", modified=FIRST_RUN + timedelta(minutes=1))
    _sync(hubspot, types=["calls"], at=SECOND_RUN)

    with django_assert_max_num_queries(10):
        listing = admin_client_ops.get("/admin/hubspot_sync/parkedrecord/")
    runs = admin_client_ops.get("/admin/hubspot_sync/syncrun/")

    assert "contact 999 not found in HubSpot" in listing.content.decode()
    assert "Incomplete: records parked" in runs.content.decode()
    parked = ParkedRecord.objects.get()
    detail = admin_client_ops.get(f"/admin/hubspot_sync/parkedrecord/{parked.pk}/change/")
    assert detail.status_code == 200 and "hs_call_disposition" in detail.content.decode()


@pytest.mark.celery_worker
def test_retry_now_in_the_admin_stores_a_parked_call_once_its_contact_exists(
    celery_worker, fake_hubspot, admin_client_ops
):
    # given a parked call whose contact then appears in HubSpot
    portal(fake_hubspot, T0)
    call_command("hubspot_sync", "--full", verbosity=0)
    _call(fake_hubspot, "850", "999", modified=timezone_now())
    with pytest.raises(CommandError, match="parked"):
        call_command("hubspot_sync", "--objects", "calls", verbosity=0)
    fake_hubspot.put("contacts", "999", modified=timezone_now(), firstname="Late")

    # when ops pick "retry now"
    response = admin_client_ops.post(
        "/admin/hubspot_sync/parkedrecord/",
        {"action": "retry_now", "_selected_action": [ParkedRecord.objects.get().pk]},
    )

    # then the worker's calls sync stores it, and nothing is parked any more
    assert response.status_code == 302
    assert wait_for(lambda: not ParkedRecord.objects.exists())
    assert CallRecord.objects.get(external_id="850").contact.hubspot_id == "999"
    assert SyncRun.objects.filter(object_type="calls").first().status == SyncStatus.SUCCEEDED
