from django.db import migrations

from crm.schedules import schedules_ensure


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0001_groups"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedules_ensure, migrations.RunPython.noop)]
