"""The follow-up index also holds the contact's id, so one setter's filtered page takes its ids
from the index alone (PostgreSQL; SQLite ignores INCLUDE)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0008_queue_covering_and_pattern_break_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="contact",
            name="contact_follow_up_figures_idx",
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(
                condition=models.Q(
                    ("is_archived", False),
                    (
                        "lifecycle_stage__in",
                        ("lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer"),
                    ),
                    ("merged_into__isnull", True),
                ),
                fields=["owner", "last_call_at"],
                include=(
                    "id",
                    "lifecycle_stage",
                    "next_task_due_at",
                    "call_count",
                    "open_deal_amount",
                    "hs_created_at",
                    "created_at",
                    "assigned_coach",
                ),
                name="contact_follow_up_figures_idx",
            ),
        ),
    ]
