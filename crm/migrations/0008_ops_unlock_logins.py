from django.db import migrations

from crm.groups import groups_sync


class Migration(migrations.Migration):
    """Ops may see and delete django-axes' access attempts in the admin (unlocking a sign-in)."""

    dependencies = [("crm", "0007_idempotency_key"), ("axes", "0010_accessattemptexpiration")]

    operations = [migrations.RunPython(groups_sync, migrations.RunPython.noop)]
