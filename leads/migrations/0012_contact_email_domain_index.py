"""An index on each contact's lower-cased email domain, for the admin's search by domain
("@example.com" or "example.com"): an equality lookup rather than a scan of 200,000 emails."""

from django.db import migrations, models
from django.db.models.functions import Lower, StrIndex, Substr


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0011_contact_autovacuum"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(
                Substr(Lower("email"), StrIndex("email", models.Value("@")) + 1),
                name="contact_email_domain_idx",
            ),
        ),
    ]
