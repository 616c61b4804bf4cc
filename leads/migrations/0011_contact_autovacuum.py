"""Vacuum the contact table after 1% of its rows changed (1,000 + 1%), not PostgreSQL's 20%.

Every call, snooze, sync and five-minute re-score rewrites contact rows, and the queue's cards and
the follow-up table read them with index-only scans. With the default, up to 40,000 changed rows
of 200,000 wait for a vacuum, their pages stop being all-visible, and those scans go back to the
table for nearly every row (the queue's cards query: 5.5 ms before a vacuum, 2.3 ms after). Each
vacuum then skips the pages still all-visible, so vacuuming often stays cheap.
"""

from django.db import migrations

from crm.migration_operations import SetAutovacuum


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0010_contact_queue_factors"),
    ]

    operations = [
        SetAutovacuum(
            "contact",
            autovacuum_vacuum_scale_factor=0.01,
            autovacuum_vacuum_threshold=1000,
            autovacuum_analyze_scale_factor=0.02,
        ),
    ]
