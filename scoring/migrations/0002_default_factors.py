from django.db import migrations

from crm.groups import groups_sync
from scoring.factors import factors_ensure


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0001_initial"),
        ("crm", "0002_default_schedules"),
    ]

    operations = [
        migrations.RunPython(factors_ensure, migrations.RunPython.noop),
        # Grant the new model to Ops and Manager.
        migrations.RunPython(groups_sync, migrations.RunPython.noop),
    ]
