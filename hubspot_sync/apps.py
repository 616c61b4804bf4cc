from django.apps import AppConfig


class HubspotSyncConfig(AppConfig):
    """HubSpot sync runs, cursors and webhooks (SPEC S5); models arrive with their issue."""

    name = "hubspot_sync"
    verbose_name = "HubSpot sync"
