from django.db import migrations

from scoring.factors import factors_ensure


class Migration(migrations.Migration):
    """Adds factor rows defined since 0002 (factors_ensure only creates what is missing)."""

    dependencies = [("scoring", "0002_default_factors")]

    operations = [migrations.RunPython(factors_ensure, migrations.RunPython.noop)]
