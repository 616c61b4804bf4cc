from django.db import migrations

from crm.groups import groups_sync


class Migration(migrations.Migration):
    """Ops (full) and managers (view/change) get the replenishment models; safe to re-run."""

    dependencies = [
        ("campaigns", "0001_replenishment"),
        ("crm", "0001_groups"),
    ]

    operations = [migrations.RunPython(groups_sync, migrations.RunPython.noop)]
