"""`manage.py hubspot_sync [--full] [--objects owners,contacts,...]`: run a sync by hand."""

import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from hubspot_sync import services
from hubspot_sync.models import SYNC_ORDER, ObjectType, SyncStatus


class Command(BaseCommand):
    help = (
        "Sync HubSpot owners, contacts, deals, calls and tasks now (incremental from the saved cursor "
        "unless --full). Safe to re-run; each run is recorded (admin: HubSpot sync runs). Exits "
        "non-zero when a type failed, did not run (its sync is already running) or left records parked."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--full", action="store_true", help="Read everything through the list endpoints.")
        parser.add_argument(
            "--objects",
            default=",".join(SYNC_ORDER),
            help=f"Comma-separated object types, run in this order: {','.join(SYNC_ORDER)}.",
        )

    def handle(self, *args, full: bool, objects: str, verbosity: int, **options) -> None:
        if not settings.HUBSPOT_ENABLED:
            raise CommandError("HubSpot is switched off: set HUBSPOT_ENABLED=true and HUBSPOT_ACCESS_TOKEN.")
        wanted = [o.strip() for o in objects.split(",") if o.strip()]
        unknown = sorted(set(wanted) - set(ObjectType.values))
        if unknown:
            raise CommandError(
                f"Unknown object type(s) {', '.join(unknown)}; choose from {', '.join(SYNC_ORDER)}."
            )
        problems = []
        for object_type in wanted:
            with tqdm(
                desc=object_type, unit="record", unit_scale=True, disable=verbosity < 1, file=sys.stderr
            ) as bar:

                def progress(stored: int, total: int | None, bar=bar) -> None:
                    if total is not None and bar.total is None:
                        bar.total = total
                    bar.update(stored)

                try:
                    run = services.sync_run(object_type=object_type, full=full, progress=progress)
                except services.SyncLocked as exc:
                    self.stdout.write(f"{object_type}: did not run, {exc}.")
                    problems.append(f"{object_type} did not run ({exc})")
                    continue
            self.stdout.write(
                f"{object_type}: {run.get_mode_display().lower()} {run.get_status_display().lower()} "
                f"in {run.duration_seconds:.1f}s · "
                f"{run.pages} pages · {run.created} created · {run.updated} updated · "
                f"{run.unchanged} unchanged · {run.skipped} skipped · {run.parked} parked · "
                f"{run.failed} failed · {run.owner_changes} owner changes"
                + (f" · error: {run.last_error}" if run.last_error else "")
            )
            if run.status == SyncStatus.FAILED:
                problems.append(f"{object_type} failed (the next run resumes from its saved cursor)")
            elif run.status == SyncStatus.INCOMPLETE:
                problems.append(
                    f"{object_type}: {run.parked} records parked, their contact missing "
                    "(admin: Parked HubSpot records; every run retries them)"
                )
        if problems:
            raise CommandError("Not everything was synced: " + "; ".join(problems) + ".")
