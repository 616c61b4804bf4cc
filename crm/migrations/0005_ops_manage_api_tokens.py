from django.db import migrations

from crm.groups import groups_sync


class Migration(migrations.Migration):
    dependencies = [("crm", "0004_api_token"), ("scoring", "0003_follow_up_due_factor")]

    operations = [migrations.RunPython(groups_sync, migrations.RunPython.noop)]
