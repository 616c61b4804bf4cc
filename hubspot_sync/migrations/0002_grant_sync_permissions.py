from django.db import migrations

from crm.groups import groups_sync


class Migration(migrations.Migration):
    """Ops (full) and managers (view) get the sync's models; groups_sync is safe to re-run."""

    dependencies = [
        ("hubspot_sync", "0001_sync_runs_cursors_webhook_events"),
        ("crm", "0001_groups"),
    ]

    operations = [migrations.RunPython(groups_sync, migrations.RunPython.noop)]
