"""`manage.py replenish`: one replenishment run, or one every N minutes, one line per step."""

import json
import time
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import pluralize

from campaigns.config import ConfigFileError, config_from_json
from campaigns.models import RunStatus, RunTrigger
from campaigns.replenishment import replenishment_run
from campaigns.services import source_add_path
from campaigns.sources import SourceFileError


class Command(BaseCommand):
    help = "Replenish the lead inventory from the configured sources (SPEC S9)."

    def add_arguments(self, parser) -> None:
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--once", action="store_true", help="One run, then exit (the default).")
        mode.add_argument(
            "--continuous", action="store_true", help="Run every --interval minutes until stopped."
        )
        parser.add_argument(
            "--interval", type=int, default=30, metavar="MINUTES", help="Minutes between runs."
        )
        parser.add_argument(
            "--config", metavar="FILE", help="Use this JSON configuration instead of the saved one."
        )
        parser.add_argument(
            "--source",
            action="append",
            default=[],
            metavar="FILE",
            help="Add a JSON or CSV lead file by path (repeatable); it is read again at every run.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Say what a run would do; create nothing.")

    def handle(self, *args, **options) -> None:
        if options["interval"] < 1:
            raise CommandError("--interval must be at least 1 minute.")
        config = self._config(options["config"])
        for path in options["source"]:
            try:
                source, parsed = source_add_path(path=path)
            except SourceFileError as error:
                raise CommandError(str(error)) from None
            self.stdout.write(
                f"Source {source.name!r}: {parsed.row_count} good row{pluralize(parsed.row_count)}, "
                f"{len(parsed.errors)} bad row{pluralize(len(parsed.errors))}"
                + "".join(f"\n  line {bad.line}: {bad.reason}" for bad in parsed.errors)
            )
        while True:
            outcome = replenishment_run(
                trigger=RunTrigger.COMMAND,
                config=config,
                dry_run=options["dry_run"],
                report=self.stdout.write,
            )
            if not options["continuous"]:
                if outcome.status == RunStatus.SKIPPED:
                    # A run that did not run must not look like one that did (exit status 0).
                    raise CommandError("Skipped: another replenishment run holds the lock.")
                return
            self.stdout.write(f"Next run in {options['interval']} minutes (Ctrl+C to stop)")
            try:
                time.sleep(options["interval"] * 60)
            except KeyboardInterrupt:
                self.stdout.write("Stopped")
                return

    def _config(self, path: str | None):
        if not path:
            return None
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror or error}") from None
        try:
            config = config_from_json(text)
        except (ConfigFileError, ValidationError, json.JSONDecodeError) as error:
            raise CommandError(f"{path}: {_message(error)}") from None
        self.stdout.write(f"Configuration from {path} (not saved)")
        return config


def _message(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(f"{field}: {' '.join(msgs)}" for field, msgs in error.message_dict.items())
    return str(error)
