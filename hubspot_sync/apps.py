from django.apps import AppConfig


class HubspotSyncConfig(AppConfig):
    """HubSpot sync (SPEC S5): the client, runs, cursors and webhook events."""

    name = "hubspot_sync"
    verbose_name = "HubSpot sync"
