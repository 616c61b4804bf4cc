"""`kill -9` of a real sync process: the command, run as its own process against the loopback fake
and this test's database, killed between two of its pages. Every call it stored is already in its
contact's facts; its lock frees itself one lease later; the rerun marks the dead run failed and
finishes the work, and nothing is stored twice."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from calls.models import CallRecord
from hubspot_sync import services
from hubspot_sync.client import HubSpotClient
from hubspot_sync.models import SyncCursor, SyncRun, SyncStatus
from leads.models import Contact
from tests.fakes.hubspot_server import iso
from tests.hubspot_sync.conftest import T0
from tests.hubspot_sync.world import CONNECTED
from tests.support import database_url, wait_for

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 10  # the shortest the setting allows: the test waits it out for real
CONTACTS = 1_000
CALLS = 4_000  # 40 pages of 100


def _sync_process(fake) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "crm.settings",
        "DJANGO_DEBUG": "true",
        "LOG_LEVEL": "ERROR",
        "HUBSPOT_ENABLED": "true",
        "HUBSPOT_ACCESS_TOKEN": fake.token,
        "HUBSPOT_API_BASE": fake.base_url,
        "HUBSPOT_REQUESTS_PER_SECOND": "0",
        "HUBSPOT_SEARCH_REQUESTS_PER_SECOND": "0",
        "HUBSPOT_SYNC_LOCK_LEASE_SECONDS": str(LEASE_SECONDS),
        "HUBSPOT_OWNER_CHANGE_INTERVENTION": "false",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "hubspot_sync", "--objects", "calls", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _facts_disagreeing() -> list[str]:
    """Contacts whose call count or last call differs from their stored calls."""
    wrong = []
    for contact in Contact.objects.only("hubspot_id", "call_count", "last_call_at"):
        calls = CallRecord.objects.filter(contact=contact)
        latest = calls.order_by("-started_at").values_list("started_at", flat=True).first()
        if (contact.call_count, contact.last_call_at) != (calls.count(), latest):
            wrong.append(contact.hubspot_id)
    return wrong


@pytest.mark.django_db(transaction=True)
def test_a_sync_killed_with_sigkill_leaves_right_facts_frees_its_lock_and_the_rerun_finishes(fake_hubspot):
    # given 1,000 synced contacts and 4,000 calls in HubSpot
    fake_hubspot.add_owner("11")
    for i in range(CONTACTS):
        fake_hubspot.put("contacts", str(10_000 + i), modified=T0, firstname=f"C{i}", hubspot_owner_id="11")
    for n in range(CALLS):
        fake_hubspot.put(
            "calls",
            str(50_000 + n),
            modified=T0,
            hs_timestamp=iso(T0 - timedelta(minutes=n)),
            hs_call_status="COMPLETED",
            hs_call_duration="60000",
            hs_call_disposition=CONNECTED,
            contacts=[str(10_000 + n % CONTACTS)],
        )
    services.sync_all(full=True, object_types=["owners", "contacts"], client=HubSpotClient())

    # when the calls sync process is killed after storing a few pages
    first = _sync_process(fake_hubspot)
    wait_for(
        lambda: (
            first.poll() is not None or SyncRun.objects.filter(object_type="calls", pages__gte=3).exists()
        ),
        timeout=60,
    )
    assert first.poll() is None, first.communicate()  # still running: it did not finish or crash
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    killed_at = time.monotonic()

    # then every call it stored counts in its contact's facts already
    stored = CallRecord.objects.count()
    assert 300 <= stored < CALLS
    assert _facts_disagreeing() == []
    # and its run is left running and its type locked, as a dead worker leaves them
    dead = SyncRun.objects.get(object_type="calls")
    assert dead.status == SyncStatus.RUNNING
    assert SyncCursor.objects.get(object_type="calls").locked_by

    # when a rerun starts within the lease, it does not run, and says so with a non-zero exit
    early = _sync_process(fake_hubspot)
    output = early.communicate(timeout=60)[0]
    assert early.returncode != 0
    assert "calls did not run" in output

    # when the lease has passed, the rerun takes the type over and finishes
    time.sleep(max(0.0, LEASE_SECONDS + 1 - (time.monotonic() - killed_at)))
    late = _sync_process(fake_hubspot)
    output = late.communicate(timeout=120)[0]
    assert late.returncode == 0, output

    # then the dead run is failed, the new one succeeded, and every call is stored exactly once
    # and counted
    dead.refresh_from_db()
    rerun = SyncRun.objects.filter(object_type="calls").exclude(pk=dead.pk).get()
    assert (dead.status, rerun.status) == (SyncStatus.FAILED, SyncStatus.SUCCEEDED)
    assert "Stopped without finishing" in dead.last_error
    assert CallRecord.objects.count() == CALLS
    assert _facts_disagreeing() == []
    assert SyncCursor.objects.get(object_type="calls").locked_by == ""
