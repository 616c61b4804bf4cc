import time

from django.core.management.base import BaseCommand

from calls.services import owner_rhythms_refresh, pattern_breaks_detect


class Command(BaseCommand):
    help = "Mark contacts below half their usual call rhythm; refresh owners' usual calling days."

    def handle(self, *args, **options) -> None:
        started = time.monotonic()
        result = pattern_breaks_detect()
        owners_changed = owner_rhythms_refresh()
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"Pattern breaks: {result.breaks} · on track: {result.on_track} · "
            f"no rhythm yet: {result.no_pattern} · changed: {result.changed} · "
            f"owners' usual days updated: {owners_changed} · {elapsed:.1f}s"
        )
