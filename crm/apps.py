from django.apps import AppConfig
from django.core.signals import setting_changed

from crm.fragments import forget_rendered_fragments


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = "CRM core"

    def ready(self) -> None:
        from crm import checks  # noqa: F401  (registers the system checks)

        setting_changed.connect(_forget_rendered_fragments)


def _forget_rendered_fragments(**kwargs) -> None:
    # A rendered fragment's key covers its data, not the settings it was rendered under (a HubSpot
    # portal id in a link, say): when a test overrides a setting, nothing rendered before is served.
    forget_rendered_fragments()
