"""`kill -9` of a real sync process: the command, run as its own process against the loopback fake
and this test's database, killed between two of its pages. Its lock frees itself one lease
later, the rerun marks the dead run failed and finishes the work, and nothing is stored twice."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection

from hubspot_sync.models import SyncCursor, SyncRun, SyncStatus
from leads.models import Contact, OwnerChange
from tests.hubspot_sync.conftest import T0
from tests.support import wait_for

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 10  # the shortest the setting allows: the test waits it out for real
CONTACTS = 3_000  # 60 pages of 50 (contacts are listed with their owner history)


def _database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    host, port = settings.get("HOST") or "127.0.0.1", settings.get("PORT") or 5432
    return f"postgres://{settings['USER']}@{host}:{port}/{settings['NAME']}"


def _sync_process(fake) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
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
        [sys.executable, "manage.py", "hubspot_sync", "--objects", "contacts", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.django_db(transaction=True)
def test_a_sync_killed_with_sigkill_frees_its_lock_and_the_rerun_finishes_its_work(fake_hubspot):
    # given a portal of 3,000 contacts, each moved once from owner 11 to 12
    fake_hubspot.add_owner("11")
    fake_hubspot.add_owner("12")
    for i in range(CONTACTS):
        fake_hubspot.put("contacts", str(10_000 + i), modified=T0, firstname=f"C{i}", hubspot_owner_id="11")
        fake_hubspot.put(
            "contacts", str(10_000 + i), modified=T0 + timedelta(minutes=1), hubspot_owner_id="12"
        )

    # when the sync process is killed after storing a few pages
    first = _sync_process(fake_hubspot)
    wait_for(lambda: first.poll() is not None or SyncRun.objects.filter(pages__gte=3).exists(), timeout=60)
    assert first.poll() is None, first.communicate()  # still running: it did not finish or crash
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    killed_at = time.monotonic()

    # then its run is left running and its type locked, as a dead worker leaves them
    dead = SyncRun.objects.get()
    assert dead.status == SyncStatus.RUNNING
    stored = Contact.objects.count()
    assert 150 <= stored < CONTACTS
    assert SyncCursor.objects.get(object_type="contacts").locked_by

    # when a rerun starts within the lease, it does not run, and says so with a non-zero exit
    early = _sync_process(fake_hubspot)
    output = early.communicate(timeout=60)[0]
    assert early.returncode != 0
    assert "contacts did not run" in output

    # when the lease has passed, the rerun takes the type over and finishes
    time.sleep(max(0.0, LEASE_SECONDS + 1 - (time.monotonic() - killed_at)))
    late = _sync_process(fake_hubspot)
    output = late.communicate(timeout=120)[0]
    assert late.returncode == 0, output

    # then the dead run is failed, the new one succeeded, and every contact and owner change is
    # stored exactly once
    dead.refresh_from_db()
    rerun = SyncRun.objects.exclude(pk=dead.pk).get()
    assert (dead.status, rerun.status) == (SyncStatus.FAILED, SyncStatus.SUCCEEDED)
    assert "Stopped without finishing" in dead.last_error
    assert Contact.objects.count() == CONTACTS
    assert Contact.objects.filter(owner__hubspot_id="12").count() == CONTACTS
    assert OwnerChange.objects.count() == CONTACTS
    assert SyncCursor.objects.get(object_type="contacts").locked_by == ""
