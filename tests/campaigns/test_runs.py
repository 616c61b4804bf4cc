"""A replenishment run end to end: audit, caps and cooldown over time, duplicates in every
direction, bad rows, the lock, crash safety, dry runs, path sources."""

from datetime import timedelta

import pytest

from campaigns import services
from campaigns.models import (
    ReplenishmentLease,
    ReplenishmentRun,
    RunStatus,
    RunTrigger,
    SourceLead,
    SourceLeadStatus,
)
from campaigns.replenishment import replenishment_run
from campaigns.services import lease_acquire, source_add_path, source_upload
from campaigns.sources import SourceFileError
from leads.models import Contact, LeadStatus, OwnerChange, OwnerChangeSource, Tier
from tests.campaigns.conftest import NOW, as_csv, as_json, lead
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def run(at=NOW, **kwargs):
    return replenishment_run(trigger=RunTrigger.COMMAND, at=at, **kwargs)


def upload(rows, name="hot_leads.json"):
    text = as_json(rows) if name.endswith(".json") else as_csv(rows)
    return source_upload(name=name, file_name=name, data=text.encode())[0]


def test_a_run_below_thresholds_creates_assigns_and_records_everything(config, team):
    # given an empty inventory and a file of 12 leads, one a duplicate of an existing contact
    ContactFactory(owner=team[0], email="taken@example.com", tier="")
    upload(
        [lead(i, tier=["A+", "A", "B"][i % 3]) for i in range(11)] + [lead(99, email="TAKEN@example.com ")]
    )

    outcome = run()

    run_row = ReplenishmentRun.objects.get()
    assert outcome.status == RunStatus.UPLOADED == run_row.status
    assert run_row.reasons[:2] == ["total leads 1 below minimum 50", "A+ leads 0 below minimum 10"]
    # each tier's shortfall (10 / 30 / 20) first, the rest of the 100 by the mix 20 / 50 / 30
    assert run_row.targets == {"A+": 18, "A": 50, "B": 32}
    assert (run_row.found, run_row.selected, run_row.created, run_row.duplicates, run_row.errors) == (
        12,
        11,
        11,
        1,
        0,
    )
    assert run_row.summary == "11 leads uploaded, 1 duplicate, 0 errors"
    assert sum(run_row.assigned.values()) == 11 and set(run_row.assigned) == {str(o) for o in team}
    created = Contact.objects.filter(source_leads__run=run_row)
    assert created.count() == 11
    assert set(created.values_list("lead_status", flat=True)) == {LeadStatus.NEW}
    assert created.filter(owner__isnull=True).count() == 0
    assert OwnerChange.objects.filter(contact__in=created, source=OwnerChangeSource.ASSIGNMENT).count() == 11
    # new contacts got their queue priority at once
    assert created.filter(queue_score__isnull=True).count() == 0
    # the run's output is its audit, one line per step
    steps = [line.split(":")[0] for line in run_row.steps[:-1]]
    assert steps == [
        "Starting replenishment run",
        "Metrics",
        "Reasons",
        "Targets",
        "Found",
        "Selected",
        "Created",
        "Assigned",
    ]
    assert run_row.steps[-1].startswith("Done in ")


def test_tier_and_lead_source_of_created_contacts(config, team):
    upload([lead(1, tier="", score=88, source="Expo 2026"), lead(2, tier="B")], name="fair.csv")
    run()
    assert set(Contact.objects.filter(source_leads__isnull=False).values_list("tier", "lead_source")) == {
        (Tier.A_PLUS, "Expo 2026"),
        (Tier.B, "fair.csv"),
    }


def test_no_upload_when_levels_are_sufficient_but_waiting_leads_are_still_assigned(config, team):
    for tier, count in (("A+", 10), ("A", 30), ("B", 20)):
        ContactFactory.create_batch(count, owner=team[0], tier=tier)
    waiting = ContactFactory(owner=None, tier=Tier.B)
    upload([lead(1)])

    outcome = run()

    assert outcome.status == RunStatus.NOT_NEEDED
    assert "Lead levels sufficient, no upload needed" in outcome.lines
    assert Contact.objects.get(pk=waiting.pk).owner is not None
    assert SourceLead.objects.get().status == SourceLeadStatus.PENDING


def test_per_run_and_daily_caps_and_the_cooldown_over_time(config, team):
    config.max_per_run, config.max_per_day, config.cooldown_minutes = 20, 30, 60
    config.save()
    upload([lead(i, tier="A") for i in range(100)])

    assert run(at=NOW).run.created == 20

    early = run(at=NOW + timedelta(minutes=30))
    assert early.status == RunStatus.BLOCKED
    assert (
        "Upload blocked: must wait 30 more minutes (cooldown 60 minutes since the upload at 10:00)"
        in early.lines
    )

    run(at=NOW + timedelta(minutes=60))
    assert ReplenishmentRun.objects.latest("started_at").created == 10  # 30 a day: 10 left

    capped = run(at=NOW + timedelta(hours=3))
    assert capped.status == RunStatus.BLOCKED
    assert "Upload blocked: daily upload limit reached (30 today)" in capped.lines

    run(at=NOW + timedelta(days=1))  # a new business day
    assert ReplenishmentRun.objects.latest("started_at").created == 20
    assert Contact.objects.filter(source_leads__isnull=False).count() == 50


def test_outside_business_hours_nothing_is_uploaded(config, team):
    from datetime import time

    config.business_hours_start, config.business_hours_end = time(9), time(18)
    config.save()
    upload([lead(1)])
    outcome = run(at=NOW + timedelta(hours=10))  # 20:00
    assert "Upload blocked: outside business hours 09:00-18:00 (now 20:00)" in outcome.lines
    assert not Contact.objects.exists()


def test_switched_off_configuration_blocks_uploads(config, team):
    config.is_enabled = False
    config.save()
    upload([lead(1)])
    assert run().status == RunStatus.BLOCKED and not Contact.objects.exists()


# --- Duplicates in every direction --------------------------------------------------------


def test_duplicates_of_existing_contacts_by_normalised_email_and_phone(config, team):
    by_email = ContactFactory(owner=team[0], email="Mixed.Case@Example.com", phone="")
    by_phone = ContactFactory(owner=team[0], email="", phone="+971501112233")
    by_mobile = ContactFactory(owner=team[0], email="", phone="", mobile="+971559998877")
    upload(
        [
            lead(1, email="  mixed.case@EXAMPLE.com ", phone=""),
            lead(2, email="new2@example.com", phone="050 111 2233"),
            lead(3, email="new3@example.com", phone="00971 55 999 8877"),
            lead(4),
        ]
    )

    run()

    details = dict(SourceLead.objects.filter(status=SourceLeadStatus.DUPLICATE).values_list("line", "detail"))
    assert sorted(details.values()) == sorted(
        [
            f"same email as contact #{by_email.pk} ({by_email.full_name})",
            f"same phone as contact #{by_phone.pk} ({by_phone.full_name})",
            f"same phone as contact #{by_mobile.pk} ({by_mobile.full_name})",
        ]
    )
    assert Contact.objects.filter(source_leads__isnull=False).count() == 1


def test_a_lead_uploaded_once_is_never_uploaded_again_even_if_its_contact_was_deleted(config, team):
    upload([lead(1)])
    run()
    Contact.objects.filter(email="prospect1@example.org").delete()
    upload([lead(1, name="Same Person Again")], name="again.json")

    run(at=NOW + timedelta(hours=2))

    assert not Contact.objects.filter(email="prospect1@example.org").exists()
    assert SourceLead.objects.get(source__name="again.json").detail == (
        "same email as a lead uploaded before (hot_leads.json line 2)"
    )


def test_duplicates_within_one_file_keep_the_best_scoring_row(config, team):
    upload([lead(1, tier="", score=50), lead(2, tier="", score=90, email="prospect1@example.org", phone="")])
    run()
    kept = Contact.objects.get(email="prospect1@example.org")
    assert kept.tier == Tier.A_PLUS
    assert (
        SourceLead.objects.get(status=SourceLeadStatus.DUPLICATE).detail
        == "same email as line 9 of this file"
    )


def test_duplicates_across_two_waiting_files(config, team):
    upload([lead(1, tier="A+")], name="first.json")
    upload([lead(5, email="other@example.com", phone="+971550000001", tier="B")], name="second.csv")
    run()
    assert Contact.objects.filter(source_leads__isnull=False).count() == 1
    assert (
        SourceLead.objects.get(status=SourceLeadStatus.DUPLICATE).detail
        == "same phone as line 2 of first.json"
    )


# --- Bad files and bad rows ---------------------------------------------------------------


def test_an_invalid_file_is_rejected_whole_and_nothing_is_staged(db):
    with pytest.raises(SourceFileError, match="not valid JSON"):
        source_upload(name="broken", file_name="broken.json", data=b'[{"name": "A"')
    assert not SourceLead.objects.exists()


def test_bad_rows_are_kept_with_their_line_and_never_stop_the_good_ones(config, team):
    source, parsed = source_upload(
        name="mixed",
        file_name="mixed.csv",
        data=b"name,email,tier\nGood Lead,good@example.com,A\nNo Way,,A\nAlso Good,also@example.com,B\n",
    )
    assert [(bad.line, bad.reason) for bad in parsed.errors] == [(3, "no email or phone")]
    assert (source.row_count, source.bad_row_count) == (3, 1)

    run()

    assert set(Contact.objects.values_list("email", flat=True)) == {"good@example.com", "also@example.com"}
    bad = SourceLead.objects.get(status=SourceLeadStatus.INVALID)
    assert (bad.line, bad.detail) == (3, "no email or phone")


# --- Path sources -------------------------------------------------------------------------


def test_a_path_source_is_re_read_and_only_new_rows_are_staged(config, team, lead_file):
    path = lead_file("feed.csv", as_csv([lead(1), lead(2)]))
    source, _ = source_add_path(path=str(path))
    run()
    path.write_text(as_csv([lead(1), lead(2), lead(3)]), encoding="utf-8")

    outcome = run(at=NOW + timedelta(hours=2))

    assert SourceLead.objects.filter(source=source).count() == 3
    assert Contact.objects.filter(source_leads__source=source).count() == 3
    assert outcome.run.created == 1


def test_a_path_source_whose_file_did_not_change_is_not_parsed_again(db, lead_file, monkeypatch):
    path = lead_file("feed.csv", as_csv([lead(1), lead(2)]))
    source_add_path(path=str(path))
    parsed = []
    real = services.read_source
    monkeypatch.setattr(services, "read_source", lambda **kwargs: parsed.append(kwargs) or real(**kwargs))

    assert services.sources_refresh() == []
    assert parsed == []  # same bytes as staged: not read again
    path.write_text(as_csv([lead(1), lead(2), lead(3)]), encoding="utf-8")
    services.sources_refresh()
    assert len(parsed) == 1
    assert SourceLead.objects.count() == 3


def test_a_path_source_over_the_size_limit_is_an_error_line(db, lead_file, settings):
    path = lead_file("feed.csv", as_csv([lead(1)]))
    source_add_path(path=str(path))
    path.write_text(as_csv([lead(n) for n in range(40000)]), encoding="utf-8")  # 2 MiB
    settings.LEAD_FILE_MAX_MB = 1
    [problem] = services.sources_refresh()
    assert "lead files may be at most 1 MB (LEAD_FILE_MAX_MB)" in problem
    assert SourceLead.objects.count() == 1


def test_an_unreadable_path_source_is_an_error_line_and_the_run_goes_on(config, team, lead_file):
    path = lead_file("feed.json", as_json([lead(1)]))
    source_add_path(path=str(path))
    upload([lead(2)])
    path.unlink()

    outcome = run()

    assert any(line.startswith("Error: source 'feed.json': cannot read") for line in outcome.lines)
    run_row = ReplenishmentRun.objects.get()
    assert run_row.errors == 1 and run_row.created == 2  # the rows staged earlier still count


def test_adding_a_missing_path_is_refused(db, tmp_path):
    with pytest.raises(SourceFileError, match="cannot read"):
        source_add_path(path=str(tmp_path / "nope.csv"))


# --- The lock and crash safety ------------------------------------------------------------


def test_a_run_that_finds_the_lock_held_is_recorded_as_skipped_never_as_a_success(config, team, settings):
    settings.JOB_LEASE_SECONDS = 60
    upload([lead(1)])
    holder = lease_acquire(at=NOW)
    assert holder
    live = ReplenishmentRun.objects.create(started_at=NOW, heartbeat_at=NOW, trigger=RunTrigger.SCHEDULE)

    outcome = run(at=NOW + timedelta(seconds=30))

    assert outcome.status == RunStatus.SKIPPED
    line = f"Another run holds the lock until 10:01:00 (run {live.pk}, last heartbeat 30 s ago); skipped"
    assert line in outcome.lines
    skipped = ReplenishmentRun.objects.get(status=RunStatus.SKIPPED)
    assert skipped == outcome.run and skipped.finished_at and skipped.summary.startswith("Skipped")
    assert not Contact.objects.exists()
    live.refresh_from_db()
    assert live.status == RunStatus.RUNNING  # the live run is left alone


def test_a_lock_left_by_a_killed_run_frees_one_lease_after_its_last_heartbeat(config, team, settings):
    settings.JOB_LEASE_SECONDS = 60
    upload([lead(1)])
    lease_acquire(at=NOW)  # never released nor renewed, as if the worker was killed
    killed = ReplenishmentRun.objects.create(started_at=NOW, heartbeat_at=NOW, trigger=RunTrigger.SCHEDULE)
    assert run(at=NOW + timedelta(seconds=59)).status == RunStatus.SKIPPED

    outcome = run(at=NOW + timedelta(seconds=61))  # a minute, not the fixed 15 of old

    assert outcome.status == RunStatus.UPLOADED
    killed.refresh_from_db()
    assert killed.status == RunStatus.FAILED
    assert killed.summary.startswith("Interrupted: its process stopped (last heartbeat 10:00:00)")
    assert ReplenishmentLease.objects.get().holder == ""  # released after the run


def test_a_run_renews_its_lease_between_steps(config, team, settings, monkeypatch):
    # given a lease of 60 s and a run whose steps take longer than that together
    settings.JOB_LEASE_SECONDS = 60
    upload([lead(1)])
    clock = iter(range(0, 10_000, 50))  # every look at the clock: 50 s later
    monkeypatch.setattr("campaigns.replenishment.time.monotonic", lambda: next(clock))
    renewals = []

    def during_run(line: str) -> None:
        renewals.extend(ReplenishmentLease.objects.values_list("expires_at", flat=True))
        if line.startswith("Selected:"):  # mid-run: a second run must find the lock held
            assert lease_acquire(at=NOW + timedelta(seconds=100)) is None

    outcome = run(report=during_run)

    assert outcome.status == RunStatus.UPLOADED
    assert max(renewals) > NOW + timedelta(seconds=60)  # renewed past the first lease


def test_a_run_whose_lease_was_taken_over_commits_nothing(config, team, monkeypatch):
    upload([lead(1)])

    def lose_the_lock(line: str) -> None:
        if line.startswith("Created:"):  # another run takes the lock as if this one were dead
            ReplenishmentLease.objects.update(holder="someone-else")

    with pytest.raises(Exception, match="took the lock over"):
        run(report=lose_the_lock)
    assert not Contact.objects.exists()
    assert ReplenishmentRun.objects.get().status == RunStatus.FAILED


def test_a_run_left_running_by_a_killed_process_is_marked_interrupted(config, team):
    killed = ReplenishmentRun.objects.create(started_at=NOW - timedelta(hours=1), trigger=RunTrigger.SCHEDULE)
    run()
    killed.refresh_from_db()
    assert killed.status == RunStatus.FAILED and killed.summary.startswith("Interrupted")


def test_two_takers_of_one_lease_only_one_wins(db):
    assert lease_acquire(at=NOW) is not None
    assert lease_acquire(at=NOW + timedelta(seconds=30)) is None


def test_a_crash_half_way_leaves_the_database_as_before_and_the_next_run_uploads_once(config, team):
    upload([lead(i) for i in range(5)])

    def crash_after_creating(line: str) -> None:
        if line.startswith("Created:"):
            raise ConnectionError("worker lost")

    with pytest.raises(ConnectionError):
        run(report=crash_after_creating)

    # then nothing of the run is kept: no contact, no owner change, rows still waiting
    assert not Contact.objects.exists()
    assert not OwnerChange.objects.exists()
    assert set(SourceLead.objects.values_list("status", flat=True)) == {SourceLeadStatus.PENDING}
    failed = ReplenishmentRun.objects.get()
    assert failed.status == RunStatus.FAILED and "worker lost" in failed.summary
    assert ReplenishmentLease.objects.get().holder == ""

    # and the next run uploads each lead exactly once (the failed run did not start a cooldown)
    run(at=NOW + timedelta(minutes=1))
    assert Contact.objects.count() == 5
    assert Contact.objects.values("email").distinct().count() == 5
    run(at=NOW + timedelta(hours=2))
    assert Contact.objects.count() == 5


def test_a_dry_run_says_what_would_happen_and_writes_nothing(config, team):
    upload([lead(i) for i in range(3)])

    outcome = run(dry_run=True)

    assert outcome.lines[0] == "Starting replenishment run (dry run: nothing will be created or assigned)"
    assert (
        "Selected: 3 leads for upload (A+ 0, A 3, B 0) · "
        "A+: wanted 18, only 0 new; A: wanted 50, only 3 new; B: wanted 32, only 0 new"
    ) in outcome.lines
    assert any(line.startswith("Would assign: 3 leads") for line in outcome.lines)
    assert not Contact.objects.exists() and not ReplenishmentRun.objects.exists()
    assert set(SourceLead.objects.values_list("status", flat=True)) == {SourceLeadStatus.PENDING}


def test_leads_nobody_has_room_for_wait_scored_and_go_out_when_room_frees(config):
    from tests.factories import OwnerFactory

    owner = OwnerFactory(daily_call_capacity=2)
    upload([lead(i) for i in range(5)])

    first = run()

    assert (first.run.created, first.run.assigned, first.run.carried_over) == (5, {str(owner): 2}, 3)
    waiting = Contact.objects.filter(owner__isnull=True)
    assert waiting.count() == 3 and not waiting.filter(queue_score__isnull=True).exists()
    # a day later the rolling quota has room again: the next run hands out two more
    later = run(at=NOW + timedelta(days=1, minutes=1))
    assert later.run.assigned == {str(owner): 2} and later.run.carried_over == 1
