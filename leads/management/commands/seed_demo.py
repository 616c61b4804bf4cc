"""`manage.py seed_demo`: fill the database with the demo world (or S12's reference set)."""

import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from leads import demo
from leads.models import Owner


class Command(BaseCommand):
    help = (
        "Fill the CRM with a realistic, reproducible demo world: owners, contacts, calls, deals, tasks, "
        "health history, owner changes and interventions, plus the demo logins (password 'demo')."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--scale",
            choices=("demo", "reference"),
            default="demo",
            help="demo: 2,000 contacts; reference: SPEC S12's 200,000 contacts, 2,000,000 calls, "
            "50,000 deals, 40 owners. The options below override it.",
        )
        parser.add_argument("--contacts", type=int, help="Contacts to create.")
        parser.add_argument("--calls", type=int, help="Call records to aim for (default: 10 per contact).")
        parser.add_argument("--deals", type=int, help="Deals to aim for (default: one per 4 contacts).")
        parser.add_argument("--owners", type=int, help="Owners (setters and coaches).")
        parser.add_argument("--seed", type=int, default=1, help="Same seed, same world.")
        parser.add_argument(
            "--chunk-size", type=int, default=10_000, help="Contacts generated per transaction."
        )
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when contacts already exist.")
        parser.add_argument("--flush", action="store_true", help="Delete the existing CRM data first.")
        parser.add_argument(
            "--i-know-this-is-not-production",
            action="store_true",
            help="Seed even though DJANGO_DEBUG is off (a staging or benchmark database).",
        )

    def handle(self, *args, **options) -> None:
        # The demo logins have the password "demo" and ops is staff: on a production database
        # that is an open door, so a process without DEBUG must say explicitly it is not one.
        if not settings.DEBUG and not options["i_know_this_is_not_production"]:
            raise CommandError(
                "DJANGO_DEBUG is off, so this looks like production: seed_demo would create the logins "
                f"manager, setter and ops with the password {demo.DEMO_PASSWORD!r} (ops and manager are "
                "staff). Run it with DJANGO_DEBUG=true, or pass --i-know-this-is-not-production."
            )
        if options["if_empty"] and options["flush"]:
            raise CommandError("--if-empty and --flush contradict each other: pick one.")
        config = self._config(options)
        verbose = options["verbosity"] >= 1
        if demo.crm_data_exists():
            if options["if_empty"]:
                if verbose:
                    self.stdout.write("Contacts already exist: nothing seeded.")
                return
            if not options["flush"]:
                raise CommandError(
                    "The CRM already has contacts. Pass --flush to replace them, --if-empty to keep them."
                )
        if options["flush"]:
            started = time.perf_counter()
            demo.crm_data_flush()
            if verbose:
                self.stdout.write(f"Flushed the CRM data in {time.perf_counter() - started:.1f}s.")

        logins = demo.demo_logins_ensure()
        if verbose:
            self.stdout.write(
                f"Seeding {config.contacts:,} contacts, about {config.calls:,} calls and "
                f"{config.deals:,} deals, {config.owners} owners (seed {config.seed})."
            )
        with tqdm(
            total=config.contacts, unit="contact", unit_scale=True, disable=not verbose, file=sys.stderr
        ) as bar:
            stats = demo.world_build(
                config=config,
                setter_user_id=logins.users["setter"].pk,
                manager_user_id=logins.users["manager"].pk,
                progress=bar.update,
            )
        if verbose:
            self._report(stats, logins)

    @staticmethod
    def _config(options) -> "demo.WorldConfig":
        base = demo.REFERENCE if options["scale"] == "reference" else demo.WorldConfig()
        values = {name: options[name] for name in ("contacts", "calls", "deals", "owners", "chunk_size")}
        for name, value in values.items():
            minimum = 1 if name in ("owners", "chunk_size") else 0
            if value is not None and value < minimum:
                raise CommandError(f"--{name.replace('_', '-')} must be at least {minimum}.")
        contacts = values["contacts"] if values["contacts"] is not None else base.contacts
        return demo.WorldConfig.sized(
            contacts=contacts,
            calls=values["calls"],
            deals=values["deals"],
            owners=values["owners"] or base.owners,
            seed=options["seed"],
            chunk_size=values["chunk_size"],
        )

    def _report(self, stats: "demo.WorldStats", logins: "demo.DemoLogins") -> None:
        total_rows = sum(stats.rows.values())
        for table, rows in stats.rows.items():
            seconds = stats.write_seconds.get(table, 0.0)
            rate = f"{rows / seconds:>10,.0f} rows/s" if seconds > 0 and rows else ""
            self.stdout.write(f"  {table:<13} {rows:>10,} rows  written in {seconds:6.1f}s {rate}")
        self.stdout.write(
            f"Generated in {stats.generate_seconds:.1f}s, committed in {stats.commit_seconds:.1f}s, "
            f"statistics refreshed in {stats.write_seconds.get('analyze', 0.0):.1f}s, queue priorities "
            f"scored in {stats.write_seconds.get('queue scores', 0.0):.1f}s, vacuumed in "
            f"{stats.write_seconds.get('vacuum', 0.0):.1f}s; {total_rows:,} rows in "
            f"{stats.total_seconds:.1f}s ({total_rows / max(stats.total_seconds, 1e-9):,.0f} rows/s)."
        )
        for username in logins.created:
            self.stdout.write(self.style.SUCCESS(f"Created login {username} / {demo.DEMO_PASSWORD}"))
        for username in logins.kept:
            self.stdout.write(
                f"The user {username} already existed and was left as it was: its password, groups and "
                "flags are unchanged."
            )
        owner = Owner.objects.filter(user=logins.users["setter"]).first()
        if owner is not None:
            self.stdout.write(
                f"The setter login works the leads of {owner} ({owner.contacts.count():,} contacts)."
            )
