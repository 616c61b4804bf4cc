"""Vacuum the call table after 1% new rows (1,000 + 1%), not PostgreSQL's 20%.

Calls are only added. "Activity today" counts today's calls from the owner's index alone
(0003), but rows added since the last vacuum are not yet marked all-visible, so with the default
(a vacuum after 400,000 new calls at 2 million) today's calls were always read from the table.
"""

from django.db import migrations

from crm.migration_operations import SetAutovacuum


class Migration(migrations.Migration):
    dependencies = [
        ("calls", "0003_call_owner_index_holds_status"),
    ]

    operations = [
        SetAutovacuum(
            "callrecord",
            autovacuum_vacuum_insert_scale_factor=0.01,
            autovacuum_vacuum_insert_threshold=1000,
        ),
    ]
