"""Indexes for the follow-up table (SPEC S3): sorts, flags and the summary pass, plus two kinds
PostgreSQL alone has:

- trigram indexes, so a search for part of a name, an email or a phone number stays fast at
  200,000 contacts. They need the pg_trgm extension and index the exact expressions Django's
  `icontains` produces on PostgreSQL (UPPER(column::text) LIKE UPPER('%...%'));
- the table's rows by last call with NULLs (never called) first, the "longest without contact"
  order of the default and days-since-contact sorts (SQLite cannot declare NULLS FIRST).

On SQLite (first try, tests) these are skipped; everything works, only without those indexes.
"""

from django.db import migrations, models

TRIGRAM_COLUMNS = ["first_name", "last_name", "email", "phone", "mobile"]
FOLLOW_UP_ROWS = (
    "NOT is_archived AND merged_into_id IS NULL AND lifecycle_stage IN "
    "('lead', 'marketingqualifiedlead', 'salesqualifiedlead', 'opportunity', 'customer')"
)
LAST_CALL_INDEX = "contact_follow_up_last_call_idx"


def _trigram_index(column: str) -> str:
    return f"contact_{column}_trgm_idx"


def postgres_indexes_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in TRIGRAM_COLUMNS:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS {_trigram_index(column)} ON leads_contact '
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {LAST_CALL_INDEX} ON leads_contact "
        f"(last_call_at ASC NULLS FIRST, id) WHERE {FOLLOW_UP_ROWS}"
    )


def postgres_indexes_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in TRIGRAM_COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS {_trigram_index(column)}")
    schema_editor.execute(f"DROP INDEX IF EXISTS {LAST_CALL_INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0005_owner_away_and_assignment_rotation"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["hs_created_at"], name="contact_hs_created_idx"),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["next_task_due_at"], name="contact_next_task_due_idx"),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(
                condition=models.Q(("call_count", 0)), fields=["hs_created_at"], name="contact_never_called_idx"
            ),
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
        migrations.RunPython(postgres_indexes_create, postgres_indexes_drop, elidable=False),
    ]
