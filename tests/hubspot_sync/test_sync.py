"""Full and incremental sync against the fake HubSpot: what is stored, idempotency, the 10,000
search cap, failures and resume, archived and merged contacts, owner changes."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine

from calls.models import CallOutcome, CallRecord, CallSource, CallStatus, Intervention, InterventionType
from calls.services import call_log
from hubspot_sync import services
from hubspot_sync.models import SyncCursor, SyncMode, SyncRun, SyncStatus
from leads.models import Contact, Deal, Owner, OwnerChange, OwnerChangeSource, Task, TaskStatus
from scoring.figures import follow_up_figures
from scoring.follow_up import follow_up_rules
from scoring.services import queue_scores_refresh
from tests.fakes.hubspot_server import iso
from tests.hubspot_sync.conftest import T0, sent_requests
from tests.hubspot_sync.world import CONNECTED, portal

pytestmark = pytest.mark.django_db

# Runs happen "later" than the portal's data, at these moments.
FIRST_RUN = T0 + timedelta(hours=1)
SECOND_RUN = T0 + timedelta(hours=2)


def _sync(hubspot, *, full=False, at=FIRST_RUN, types=None):
    with time_machine.travel(at, tick=True):
        return {r.object_type: r for r in services.sync_all(full=full, client=hubspot, object_types=types)}


def _counts(run):
    return (run.created, run.updated, run.unchanged)


def test_full_sync_stores_owners_contacts_deals_calls_and_tasks(fake_hubspot, hubspot):
    # given
    portal(fake_hubspot, T0)

    # when
    runs = _sync(hubspot, full=True)

    # then every type ran as a full sync and succeeded
    assert {t: (r.mode, r.status) for t, r in runs.items()} == {
        t: (SyncMode.FULL, SyncStatus.SUCCEEDED) for t in ("owners", "contacts", "deals", "calls", "tasks")
    }
    assert runs["owners"].requests == 2  # active, then archived (deactivated) owners; per run
    assert Owner.objects.get(hubspot_id="13").is_active is False  # deactivated owner still stored
    assert Owner.objects.get(hubspot_id="11").team == "Dubai"
    ali = Contact.objects.get(hubspot_id="101")
    assert (ali.first_name, ali.email, ali.owner.hubspot_id) == ("Ali", "ali@example.com", "11")
    assert (ali.phone, ali.phone_is_valid) == ("+971501234567", True)
    assert (ali.mobile, ali.mobile_is_valid) == ("not a number", False)  # kept as typed, flagged
    assert Contact.objects.get(hubspot_id="103").lifecycle_stage == "other"  # a custom stage id
    gold = Deal.objects.get(hubspot_id="501")
    assert (gold.contact, gold.amount, gold.stage_label, gold.pipeline_label) == (
        ali,
        Decimal("1500.50"),
        "Appointment Scheduled",
        "Sales Pipeline",
    )
    renewal = Deal.objects.get(hubspot_id="502")
    assert (renewal.stage_label, renewal.pipeline_label, renewal.is_closed, renewal.is_won) == (
        "Renewed",
        "Renewals",
        True,
        True,
    )
    intro = CallRecord.objects.get(source=CallSource.HUBSPOT, external_id="801")
    assert (intro.contact, intro.status, intro.outcome, intro.duration_seconds) == (
        ali,
        CallStatus.ANSWERED,
        CallOutcome.CONNECTED,
        360,
    )
    assert intro.notes == "Intro\nKeen on gold"
    assert CallRecord.objects.get(external_id="802").outcome == CallOutcome.OTHER  # unknown GUID
    assert Task.objects.get(hubspot_id="902").status == TaskStatus.COMPLETED
    assert SyncCursor.objects.get(object_type="contacts").modified_after is not None


def test_per_contact_facts_are_correct_after_a_sync(fake_hubspot, hubspot):
    portal(fake_hubspot, T0)
    _sync(hubspot, full=True)

    ali = Contact.objects.get(hubspot_id="101")
    # call 802 is COMPLETED with an outcome this portal does not define: answered, outcome "other"
    assert (ali.call_count, ali.answered_call_count, ali.outgoing_call_count) == (2, 2, 2)
    assert ali.last_call_at == T0 - timedelta(hours=2)  # call 802, the later one
    assert (ali.last_call_outcome, ali.last_reached_at) == (CallOutcome.OTHER, T0 - timedelta(hours=2))
    assert ali.next_task_due_at == T0 - timedelta(days=1)  # the open task: overdue
    assert ali.open_deal_amount == Decimal("1500.50")
    cy = Contact.objects.get(hubspot_id="103")
    assert (cy.call_count, cy.outgoing_call_count, cy.open_deal_amount) == (1, 0, None)  # deal 502 is won
    # and every queue score is already current: refreshing again changes none
    ids = list(Contact.objects.values_list("pk", flat=True))
    with time_machine.travel(FIRST_RUN, tick=True):
        assert queue_scores_refresh(contact_ids=ids) == 0


def test_a_second_run_changes_nothing_and_counts_everything_unchanged(fake_hubspot, hubspot):
    portal(fake_hubspot, T0)
    _sync(hubspot, full=True)
    before = {
        "contacts": list(Contact.objects.order_by("pk").values()),
        "calls": list(CallRecord.objects.order_by("pk").values()),
        "deals": list(
            Deal.objects.order_by("pk").values_list("hubspot_id", "contact_id", "amount", "stage_entered_at")
        ),
        "owner_changes": OwnerChange.objects.count(),
        "interventions": Intervention.objects.count(),
    }

    full_again = _sync(hubspot, full=True, at=SECOND_RUN)
    incremental = _sync(hubspot, at=SECOND_RUN + timedelta(minutes=5))

    assert {t: _counts(r) for t, r in full_again.items()} == {
        "owners": (0, 0, 3),
        "contacts": (0, 0, 3),
        "deals": (0, 0, 2),
        "calls": (0, 0, 3),
        "tasks": (0, 0, 2),
    }
    assert all(r.created == r.updated == 0 for r in incremental.values())
    after = {
        "contacts": list(Contact.objects.order_by("pk").values()),
        "calls": list(CallRecord.objects.order_by("pk").values()),
        "deals": list(
            Deal.objects.order_by("pk").values_list("hubspot_id", "contact_id", "amount", "stage_entered_at")
        ),
        "owner_changes": OwnerChange.objects.count(),
        "interventions": Intervention.objects.count(),
    }
    for rows in (before["contacts"], after["contacts"]):
        for row in rows:
            row.pop("updated_at")
    assert after == before


def test_incremental_sync_reads_what_changed_since_the_cursor(fake_hubspot, hubspot):
    # given a synced portal, then changes in HubSpot after the first run
    portal(fake_hubspot, T0)
    full = _sync(hubspot, full=True)
    changed_at = FIRST_RUN + timedelta(minutes=30)
    fake_hubspot.put("contacts", "101", modified=changed_at, firstname="Alia", hubspot_owner_id="11")
    fake_hubspot.put("deals", "501", modified=changed_at, amount="2500", dealstage="qualifiedtobuy")
    fake_hubspot.put(
        "calls",
        "804",
        modified=changed_at,
        hs_timestamp=iso(changed_at),
        hs_call_duration="60000",
        hs_call_disposition=CONNECTED,
        hs_call_status="COMPLETED",
        contacts=["103"],
    )
    fake_hubspot.requests.clear()

    # when
    runs = _sync(hubspot, at=SECOND_RUN)

    # then only the changed records were stored, through search on each type's modified property
    assert runs["contacts"].mode == SyncMode.INCREMENTAL
    assert _counts(runs["contacts"]) == (0, 1, 0)
    assert _counts(runs["deals"]) == (0, 1, 0)
    assert _counts(runs["calls"]) == (1, 0, 0)
    assert Contact.objects.get(hubspot_id="101").first_name == "Alia"
    deal = Deal.objects.get(hubspot_id="501")
    assert (deal.amount, deal.stage, deal.stage_label) == (
        Decimal("2500.00"),
        "qualifiedtobuy",
        "Qualified To Buy",
    )
    assert deal.stage_entered_at == changed_at
    assert Contact.objects.get(hubspot_id="101").open_deal_amount == Decimal("2500.00")
    assert Contact.objects.get(hubspot_id="103").call_count == 2
    searches = [r for r in fake_hubspot.requests if r.path.endswith("/search")]
    properties = {
        r.path.split("/")[-2]: r.body["filterGroups"][0]["filters"][0]["propertyName"] for r in searches
    }
    assert properties == {
        "contacts": "lastmodifieddate",
        "deals": "hs_lastmodifieddate",
        "calls": "hs_lastmodifieddate",
        "tasks": "hs_lastmodifieddate",
    }
    # the window starts a little before the saved cursor (search is eventually consistent)
    first_filter = searches[0].body["filterGroups"][0]["filters"][0]
    window_start = full["contacts"].started_at - timedelta(seconds=120)
    assert int(first_filter["value"]) == int(window_start.timestamp() * 1000)
    assert SyncCursor.objects.get(object_type="contacts").modified_after == runs["contacts"].started_at


def test_windows_past_10000_results_and_more_than_a_page_sharing_one_timestamp(fake_hubspot, hubspot):
    # given 10,500 tasks changed since the last sync: 9,900 at distinct moments, then 500 at one
    # moment (a bulk import) straddling the 10,000th result, then 100 more
    SyncCursor.objects.create(object_type="tasks", modified_after=T0)
    moment = T0 + timedelta(minutes=1)
    for i in range(9_900):
        fake_hubspot.put(
            "tasks", str(10_000 + i), modified=moment + timedelta(milliseconds=i), hs_task_subject="x"
        )
    bulk = moment + timedelta(seconds=30)
    for i in range(500):
        fake_hubspot.put("tasks", str(30_000 + i), modified=bulk, hs_task_subject="bulk")
    for i in range(100):
        fake_hubspot.put(
            "tasks", str(40_000 + i), modified=bulk + timedelta(seconds=1 + i), hs_task_subject="y"
        )

    # when
    run = _sync(hubspot, types=["tasks"], at=T0 + timedelta(hours=1))["tasks"]

    # then all were stored, and no query ever paged past 10,000
    assert run.status == SyncStatus.SUCCEEDED, run.last_error
    assert Task.objects.count() == 10_500
    assert run.created == 10_500
    searches = [r.body for r in fake_hubspot.requests if r.path.endswith("/search")]
    assert max(int(b["after"]) + b["limit"] for b in searches) <= 10_000
    pinned = [b for b in searches if b["sorts"][0]["propertyName"] == "hs_object_id"]
    assert pinned and pinned[0]["filterGroups"][0]["filters"][0] == {
        "propertyName": "hs_lastmodifieddate",
        "operator": "EQ",
        "value": str(int(bulk.timestamp() * 1000)),
    }


def test_a_failed_page_ends_the_run_failed_keeps_what_was_stored_and_the_next_run_resumes(
    fake_hubspot, hubspot
):
    # given 450 contacts changed since the cursor, and HubSpot failing the second search page
    SyncCursor.objects.create(object_type="contacts", modified_after=T0)
    for i in range(450):
        fake_hubspot.put(
            "contacts", str(1000 + i), modified=T0 + timedelta(minutes=1, seconds=i), firstname=f"N{i}"
        )
    fake_hubspot.fail(
        500, times=10, match=lambda r: r.path.endswith("/search") and r.body.get("after") == "200"
    )

    # when
    failed = _sync(hubspot, types=["contacts"])["contacts"]

    # then the first page is stored and the cursor sits at its last record
    assert failed.status == SyncStatus.FAILED
    assert "HTTP 500" in failed.last_error and "fake-500-correlation" in failed.last_error
    assert (failed.created, failed.pages) == (200, 1)
    assert Contact.objects.count() == 200
    assert SyncCursor.objects.get(object_type="contacts").modified_after == T0 + timedelta(
        minutes=1, seconds=199
    )
    assert SyncCursor.objects.get(object_type="contacts").locked_until is None  # the lock is released

    # when HubSpot answers again
    fake_hubspot.scripted.clear()
    resumed = _sync(hubspot, types=["contacts"], at=SECOND_RUN)["contacts"]

    # then the next run starts from the saved cursor (minus the overlap) and finishes
    assert resumed.status == SyncStatus.SUCCEEDED
    assert resumed.cursor_from == T0 + timedelta(minutes=1, seconds=199)
    assert Contact.objects.count() == 450
    assert resumed.created == 250
    assert resumed.unchanged < 200  # only the overlap is read again


def test_a_failed_full_sync_resumes_at_its_list_cursor(fake_hubspot, hubspot):
    for i in range(250):
        fake_hubspot.put(
            "deals",
            str(5000 + i),
            modified=T0,
            dealname=f"D{i}",
            dealstage="appointmentscheduled",
            pipeline="default",
        )
    fake_hubspot.fail(
        502, times=10, match=lambda r: r.path.endswith("/deals") and r.query.get("after") == ["5200"]
    )

    failed = _sync(hubspot, full=True, types=["deals"])["deals"]
    assert (failed.status, Deal.objects.count()) == (SyncStatus.FAILED, 200)
    assert SyncCursor.objects.get(object_type="deals").full_after == "5200"  # HubSpot's id cursor

    fake_hubspot.scripted.clear()
    fake_hubspot.requests.clear()
    resumed = _sync(hubspot, types=["deals"], at=SECOND_RUN)["deals"]  # not asked for full: resumes it
    assert (resumed.mode, resumed.status, resumed.created, resumed.unchanged) == (
        SyncMode.FULL,
        "succeeded",
        50,
        0,
    )
    assert fake_hubspot.requests[0].query.get("after") == ["5200"]
    assert Deal.objects.count() == 250
    assert SyncCursor.objects.get(object_type="deals").full_after == ""


def test_archived_records_are_marked_archived_not_deleted(fake_hubspot, hubspot):
    portal(fake_hubspot, T0)
    fake_hubspot.archive("contacts", "102")
    fake_hubspot.archive("deals", "501")

    _sync(hubspot, full=True)

    assert Contact.objects.get(hubspot_id="102").is_archived is True
    assert Deal.objects.get(hubspot_id="501").is_archived is True
    assert Contact.objects.get(hubspot_id="101").open_deal_amount is None  # an archived deal is not open


def test_merged_contact_points_to_its_survivor_and_its_calls_and_deals_follow(fake_hubspot, hubspot):
    # given Cy (103) synced with a call and a deal, then merged into Ali (101) in HubSpot
    portal(fake_hubspot, T0)
    _sync(hubspot, full=True)
    fake_hubspot.merge("101", "103", at=FIRST_RUN + timedelta(minutes=10))

    # when
    run = _sync(hubspot, types=["contacts"], at=SECOND_RUN)["contacts"]

    # then
    assert run.status == SyncStatus.SUCCEEDED
    ali, cy = Contact.objects.get(hubspot_id="101"), Contact.objects.get(hubspot_id="103")
    assert cy.merged_into == ali
    assert CallRecord.objects.get(external_id="803").contact == ali
    assert Deal.objects.get(hubspot_id="502").contact == ali
    assert (ali.call_count, cy.call_count) == (3, 0)

    # and a later sync of calls (associations now point at the survivor) keeps them there
    _sync(hubspot, full=True, types=["calls", "deals"], at=SECOND_RUN + timedelta(minutes=5))
    assert CallRecord.objects.filter(contact=cy).count() == 0


def test_owner_change_is_recorded_once_with_an_introduction_for_the_new_owner(fake_hubspot, hubspot):
    # given a synced portal, then Ali moved from Sam (11) to Olga (12) in HubSpot
    portal(fake_hubspot, T0)
    _sync(hubspot, full=True)
    moved_at = FIRST_RUN + timedelta(minutes=20)
    fake_hubspot.put("contacts", "101", modified=moved_at, hubspot_owner_id="12")

    # when the change is seen by incremental sync, then again by a full sync and another incremental
    first = _sync(hubspot, types=["contacts"], at=SECOND_RUN)["contacts"]
    _sync(hubspot, full=True, types=["contacts"], at=SECOND_RUN + timedelta(minutes=5))
    _sync(hubspot, types=["contacts"], at=SECOND_RUN + timedelta(minutes=10))

    # then exactly one OwnerChange, dated by HubSpot's history, and one introduction
    ali = Contact.objects.get(hubspot_id="101")
    changes = list(OwnerChange.objects.filter(contact=ali))
    assert len(changes) == 1
    change = changes[0]
    assert (change.from_owner.hubspot_id, change.to_owner.hubspot_id) == ("11", "12")
    assert (change.changed_at, change.source) == (moved_at, OwnerChangeSource.SYNC)
    assert first.owner_changes == 1
    assert ali.owner.hubspot_id == "12" and ali.owner_changed_at == moved_at
    with time_machine.travel(SECOND_RUN + timedelta(minutes=10), tick=True):
        assert queue_scores_refresh(contact_ids=[ali.pk]) == 0  # the new owner's queue has it already
    introductions = Intervention.objects.filter(
        contact=ali, intervention_type=InterventionType.NEW_OWNER_INTRODUCTION
    )
    assert [i.owner.hubspot_id for i in introductions] == ["12"]


def test_owner_history_before_the_first_sync_is_recorded_without_an_introduction(fake_hubspot, hubspot):
    portal(fake_hubspot, T0)  # Bea (102) went from Sam (11) to Gone (13) before we synced
    _sync(hubspot, full=True)
    bea = Contact.objects.get(hubspot_id="102")
    assert list(
        OwnerChange.objects.filter(contact=bea).values_list("from_owner__hubspot_id", "to_owner__hubspot_id")
    ) == [("11", "13")]
    assert not Intervention.objects.filter(contact=bea).exists()


def test_no_introduction_when_switched_off(fake_hubspot, hubspot, settings):
    settings.HUBSPOT_OWNER_CHANGE_INTERVENTION = False
    portal(fake_hubspot, T0)
    _sync(hubspot, full=True)
    fake_hubspot.put("contacts", "101", modified=FIRST_RUN + timedelta(minutes=1), hubspot_owner_id="12")
    _sync(hubspot, types=["contacts"], at=SECOND_RUN)
    assert OwnerChange.objects.filter(contact__hubspot_id="101").count() == 1
    assert not Intervention.objects.exists()


def test_no_hubspot_request_is_sent_inside_a_transaction(fake_hubspot, hubspot):
    # given every request of a full sync and of an incremental one that reads owner history (Ali
    # moved; search pages carry none) and associations (search pages carry none) recorded
    sent = sent_requests(hubspot)
    portal(fake_hubspot, T0)
    _sync(hubspot, full=True)
    changed_at = FIRST_RUN + timedelta(minutes=20)
    fake_hubspot.put("contacts", "101", modified=changed_at, hubspot_owner_id="12")
    fake_hubspot.put("deals", "501", modified=changed_at, amount="2500")
    fake_hubspot.put("tasks", "901", modified=changed_at, hs_task_status="COMPLETED")
    fake_hubspot.put(
        "calls",
        "804",
        modified=changed_at,
        hs_timestamp=iso(changed_at),
        hs_call_disposition=CONNECTED,
        hs_call_status="COMPLETED",
        contacts=["103"],
    )

    # when
    runs = _sync(hubspot, at=SECOND_RUN)

    # then the stores got what they need from HubSpot, and none of it was read in a transaction
    assert {r.status for r in runs.values()} == {SyncStatus.SUCCEEDED}
    assert {
        "/crm/v3/objects/contacts/batch/read",
        "/crm/v4/associations/deals/contacts/batch/read",
        "/crm/v4/associations/calls/contacts/batch/read",
        "/crm/v4/associations/tasks/contacts/batch/read",
        "/crm/v3/pipelines/deals",
        "/crm/v3/properties/calls/hs_call_disposition",
    } <= {r.path for r in sent}
    assert [r for r in sent if r.open_transactions] == []
    change = OwnerChange.objects.get(contact__hubspot_id="101")
    assert change.changed_at == changed_at  # dated by the history read before the transaction
    assert Deal.objects.get(hubspot_id="501").contact.hubspot_id == "101"
    assert Task.objects.get(hubspot_id="901").status == TaskStatus.COMPLETED
    assert CallRecord.objects.get(external_id="804").contact.hubspot_id == "103"


def test_an_owner_changed_here_after_the_history_was_read_is_recorded_from_the_diff(fake_hubspot, hubspot):
    # given a synced portal, then Ali moved to Olga and Cy renamed in HubSpot
    portal(fake_hubspot, T0)
    _sync(hubspot, full=True)
    changed_at = FIRST_RUN + timedelta(minutes=20)
    fake_hubspot.put("contacts", "101", modified=changed_at, hubspot_owner_id="12")
    fake_hubspot.put("contacts", "103", modified=changed_at, firstname="Cyrus")
    # and Cy handed to Sam here while the sync reads Ali's history, before it stores the page
    sam = Owner.objects.get(hubspot_id="11")

    def hand_cy_to_sam(response, *args, **kwargs):
        if response.request.path_url.endswith("/contacts/batch/read"):
            Contact.objects.filter(hubspot_id="103").update(owner=sam)

    hubspot.session.hooks["response"].append(hand_cy_to_sam)

    # when
    run = _sync(hubspot, types=["contacts"], at=SECOND_RUN)["contacts"]

    # then Ali's change is dated by HubSpot's history, and Cy's (back to Olga) by the diff
    assert run.owner_changes == 2
    ali_change = OwnerChange.objects.get(contact__hubspot_id="101")
    assert (ali_change.changed_at, ali_change.to_owner.hubspot_id) == (changed_at, "12")
    cy_change = OwnerChange.objects.get(contact__hubspot_id="103")
    assert (cy_change.from_owner, cy_change.to_owner.hubspot_id) == (sam, "12")
    assert cy_change.note == "Owner differs from the last sync (no HubSpot history entry)"
    assert Contact.objects.get(hubspot_id="103").owner.hubspot_id == "12"


def test_a_call_logged_here_is_not_counted_again_when_it_comes_back_from_hubspot(fake_hubspot, hubspot):
    # given Ali synced, and a call logged here
    portal(fake_hubspot, T0)
    _sync(hubspot, full=True)
    ali = Contact.objects.get(hubspot_id="101")
    logged_at = FIRST_RUN + timedelta(minutes=5)
    call_log(
        contact=ali,
        owner=ali.owner,
        status=CallStatus.ANSWERED,
        outcome=CallOutcome.CONNECTED,
        started_at=logged_at,
    )
    # and the same call showing up in HubSpot a few seconds off
    fake_hubspot.put(
        "calls",
        "880",
        modified=logged_at + timedelta(minutes=1),
        hs_timestamp=iso(logged_at + timedelta(seconds=20)),
        hs_call_direction="OUTBOUND",
        hs_call_disposition=CONNECTED,
        hs_call_status="COMPLETED",
        contacts=["101"],
    )

    # when
    run = _sync(hubspot, types=["calls"], at=SECOND_RUN)["calls"]

    # then
    assert run.created == 0
    ali.refresh_from_db()
    assert ali.call_count == 3


def test_two_syncs_of_one_type_never_run_at_once(fake_hubspot, hubspot):
    token = services._lock_claim("deals")
    with pytest.raises(services.SyncLocked):
        services.sync_run(object_type="deals", client=hubspot)
    services._lock_release("deals", token)
    assert services.sync_run(object_type="deals", client=hubspot).status == SyncStatus.SUCCEEDED


def test_a_lock_left_by_a_dead_worker_expires(fake_hubspot, hubspot):
    services._lock_claim("deals")  # never released: the worker died
    with time_machine.travel(FIRST_RUN + timedelta(days=400), tick=True):
        # no sane run lasts this long; the lock has expired
        run = services.sync_run(object_type="deals", client=hubspot)
    assert run.status == SyncStatus.SUCCEEDED
    assert SyncRun.objects.count() == 1


def test_a_contact_moved_in_hubspot_leaves_its_old_owners_follow_up_figures(fake_hubspot, hubspot):
    # given a synced portal whose follow-up figures were counted, then Ali moved from Sam to Olga
    portal(fake_hubspot, T0)
    _sync(hubspot, full=True)
    sam, olga = Owner.objects.get(hubspot_id="11"), Owner.objects.get(hubspot_id="12")
    with time_machine.travel(SECOND_RUN, tick=False):
        before = follow_up_figures(rules=follow_up_rules())
    fake_hubspot.put("contacts", "101", modified=FIRST_RUN + timedelta(minutes=20), hubspot_owner_id="12")

    # when the move is synced
    _sync(hubspot, types=["contacts"], at=SECOND_RUN)

    # then both owners' counts follow at once, without a recount of everyone
    with time_machine.travel(SECOND_RUN, tick=False):
        after = follow_up_figures(rules=follow_up_rules())
    assert after.get(sam.pk, {}).get("leads", 0) == before[sam.pk]["leads"] - 1
    assert after[olga.pk]["leads"] == before.get(olga.pk, {}).get("leads", 0) + 1
