"""`manage.py rebuild_contact_facts`: recompute every contact's call facts from the call records."""

import sys
import time

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from calls import services
from leads.models import Contact


class Command(BaseCommand):
    help = (
        "Recompute last call, call counts and last activity of every contact from the call records "
        "(safe to re-run; the nightly task does the same)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=5_000, help="Contacts per query and transaction."
        )

    def handle(self, *args, batch_size: int, verbosity: int, **options) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be positive.")
        started = time.perf_counter()
        with tqdm(total=Contact.objects.count(), unit="contact", unit_scale=True, disable=verbosity < 1,
                  file=sys.stderr) as bar:  # fmt: skip
            rebuilt = services.contact_facts_rebuild(batch_size=batch_size, progress=bar.update)
        if verbosity >= 1:
            elapsed = time.perf_counter() - started
            self.stdout.write(
                f"Rebuilt the call facts of {rebuilt:,} contacts in {elapsed:.1f}s "
                f"({rebuilt / max(elapsed, 1e-9):,.0f} contacts/s)."
            )
