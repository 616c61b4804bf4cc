from django.db import migrations

from crm.schedules import schedules_ensure


class Migration(migrations.Migration):
    """Adds the schedules defined since 0002 (schedules_ensure only creates what is missing)."""

    dependencies = [("crm", "0002_default_schedules")]

    operations = [migrations.RunPython(schedules_ensure, migrations.RunPython.noop)]
