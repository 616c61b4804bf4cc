"""Indexes for the call queue page (SPEC S2):

- the owner's queue index also holds the other columns the queue filters on, with the workable
  conditions as its predicate, so the summary cards count an owner's queue from the index;
- an owner's "recently assigned" panel, latest first, is an index walk that stops after 20 rows;
- the pattern-break alerts, longest silent first (never called first), per owner and for everyone,
  walk an index in that order and stop after ten rows instead of sorting every pattern break.
  They need NULLS FIRST, which SQLite cannot declare: PostgreSQL only, like 0006's.
"""

from django.db import migrations, models

PATTERN_BREAKS = "pattern_status = 'PATTERN_BREAK' AND NOT is_archived AND merged_into_id IS NULL"
PATTERN_BREAK_INDEXES = {
    "contact_owner_pattern_break_idx": "owner_id, last_call_at ASC NULLS FIRST, id",
    "contact_pattern_break_order_idx": "last_call_at ASC NULLS FIRST, id",
}


def postgres_indexes_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, columns in PATTERN_BREAK_INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON leads_contact ({columns}) WHERE {PATTERN_BREAKS}"
        )


def postgres_indexes_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in PATTERN_BREAK_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0007_contact_risk_index"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="contact",
            name="contact_queue_owner_idx",
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(
                condition=models.Q(
                    ("do_not_contact", False),
                    ("is_archived", False),
                    (
                        "lifecycle_stage__in",
                        ("lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer"),
                    ),
                    ("merged_into__isnull", True),
                    ("queue_score__isnull", False),
                ),
                fields=["owner", "-queue_score", "last_call_at", "id"],
                include=("health_zone", "next_task_due_at"),
                name="contact_queue_owner_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(
                condition=models.Q(("is_archived", False)),
                fields=["owner", "-owner_changed_at", "id"],
                name="contact_owner_reassigned_idx",
            ),
        ),
        migrations.RunPython(postgres_indexes_create, postgres_indexes_drop, elidable=False),
    ]
