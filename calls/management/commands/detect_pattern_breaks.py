import time

from django.core.management.base import BaseCommand

from calls.services import pattern_breaks_detect


class Command(BaseCommand):
    help = "Mark contacts whose calls this week fell below half their usual weekly rhythm (SPEC S10)."

    def handle(self, *args, **options) -> None:
        started = time.monotonic()
        result = pattern_breaks_detect()
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"Pattern breaks: {result.breaks} · on track: {result.on_track} · "
            f"no rhythm yet: {result.no_pattern} · changed: {result.changed} · {elapsed:.1f}s"
        )
