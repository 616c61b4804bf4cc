from django.db import migrations

from crm.schedules import schedules_ensure


class Migration(migrations.Migration):
    """Adds the schedules defined since 0003: queue re-scoring, HubSpot sync, replenishment, the
    daily dashboard snapshot (schedules_ensure only creates what is missing)."""

    dependencies = [("crm", "0005_ops_manage_api_tokens")]

    operations = [migrations.RunPython(schedules_ensure, migrations.RunPython.noop)]
