from django.apps import AppConfig
from django.conf import settings
from django.core.cache import caches
from django.core.signals import setting_changed


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "CRM core"

    def ready(self) -> None:
        setting_changed.connect(_forget_rendered_fragments)


def _forget_rendered_fragments(**kwargs) -> None:
    # A rendered fragment's key covers its data, not the settings it was rendered under (a HubSpot
    # portal id in a link, say): when a test overrides a setting, nothing rendered before is served.
    for alias in ("fragments", "fragment_lists"):
        if alias in settings.CACHES:
            caches[alias].clear()
