import time

from django.core.management.base import BaseCommand

from calls.services import pattern_breaks_detect


class Command(BaseCommand):
    help = "Mark contacts whose calls this week fell below half their usual weekly rhythm (SPEC S10)."

    def handle(self, *args, **options) -> None:
        started = time.monotonic()
        result = pattern_breaks_detect()
        self.stdout.write(
            f"Pattern breaks: {result.breaks} · on track: {result.on_track} · no rhythm yet: {result.no_pattern} · "
            f"changed: {result.changed} · {time.monotonic() - started:.1f}s"
        )
