from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    """Multi-channel campaigns (SPEC S6); models arrive with their issue."""

    name = "campaigns"
