"""SetAutovacuum: the busy tables' autovacuum settings, set by migrations on PostgreSQL only."""

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from crm.migration_operations import SetAutovacuum
from tests.support import require_postgres

pytestmark = pytest.mark.django_db


def table_options(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [table])
        return set(cursor.fetchone()[0] or [])


def migrated_state():
    return MigrationLoader(connection).project_state()


@pytest.mark.postgres
def test_the_migrations_vacuum_contacts_and_calls_after_one_percent_changed():
    require_postgres()

    assert table_options("leads_contact") == {
        "autovacuum_vacuum_scale_factor=0.01",
        "autovacuum_vacuum_threshold=1000",
        "autovacuum_analyze_scale_factor=0.02",
    }
    assert table_options("calls_callrecord") == {
        "autovacuum_vacuum_insert_scale_factor=0.01",
        "autovacuum_vacuum_insert_threshold=1000",
    }


@pytest.mark.postgres
def test_unapplying_resets_only_the_settings_it_set():
    require_postgres()
    operation = SetAutovacuum("contact", autovacuum_vacuum_threshold=1234)
    state = migrated_state()

    with connection.schema_editor() as editor:
        operation.database_forwards("leads", editor, state, state)
    assert "autovacuum_vacuum_threshold=1234" in table_options("leads_contact")

    with connection.schema_editor() as editor:
        operation.database_backwards("leads", editor, state, state)
    assert table_options("leads_contact") == {
        "autovacuum_vacuum_scale_factor=0.01",
        "autovacuum_analyze_scale_factor=0.02",
    }


def test_it_alters_the_table_on_postgresql_only():
    state = migrated_state()
    editor = connection.schema_editor(collect_sql=True)  # what `sqlmigrate` would print

    SetAutovacuum("contact", autovacuum_vacuum_threshold=1).database_forwards("leads", editor, state, state)

    if connection.vendor == "postgresql":
        assert editor.collected_sql == ['ALTER TABLE "leads_contact" SET (autovacuum_vacuum_threshold = 1);']
    else:
        assert editor.collected_sql == []


def test_it_deconstructs_for_the_migration_writer():
    operation = SetAutovacuum("callrecord", autovacuum_vacuum_insert_threshold=1000)

    assert operation.deconstruct() == (
        "SetAutovacuum",
        ["callrecord"],
        {"autovacuum_vacuum_insert_threshold": 1000},
    )
    assert operation.describe() == "Set autovacuum settings of callrecord"
