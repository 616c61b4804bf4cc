from django.apps import AppConfig


class ScoringConfig(AppConfig):
    """Lead scores and the queue priority engine (SPEC S2, S7); models arrive with their issue."""

    name = "scoring"
