from django.db import migrations

from crm.groups import groups_sync


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("leads", "0001_initial"),
        ("calls", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(groups_sync, migrations.RunPython.noop)]
