"""Writing the demo world fast: rows with explicit ids, COPY on PostgreSQL, executemany elsewhere.

The generator assigns ids itself so a contact's calls can point at it before anything is
written and the same seed gives the same ids. Rows bypass model `save()`: every value,
including `created_at`/`updated_at`, is exactly what the generator computed (the contact facts
it precomputes depend on a deal's `updated_at`).
"""

from collections.abc import Sequence

from django.apps import apps
from django.core.management.color import no_style
from django.db import connection
from django.db.models import Max, Model

# Apps whose tables `crm_data_flush` empties (tables referencing them go too: CASCADE).
CRM_APPS = ("leads", "calls")


class TableWriter:
    """Appends rows (tuples in `fields` order) to one model's table. Concrete fields not listed
    get their model default, so a field added later does not break the generator."""

    def __init__(self, model: type[Model], fields: Sequence[str], *, now) -> None:
        opts = model._meta
        self.model = model
        self.fields = [opts.get_field(name) for name in fields]
        given = {field.attname for field in self.fields}
        self.extra = [field for field in opts.concrete_fields if field.attname not in given]
        self.extra_values = tuple(
            now
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
            else field.get_default()
            for field in self.extra
        )
        columns = self.fields + self.extra
        quote = connection.ops.quote_name
        self.table = quote(opts.db_table)
        self.column_list = ", ".join(quote(field.column) for field in columns)
        self.rows_written = 0

    def write(self, rows: Sequence[tuple]) -> None:
        if not rows:
            return
        if connection.vendor == "postgresql":
            self._copy(rows)
        else:
            self._executemany(rows)
        self.rows_written += len(rows)

    def _copy(self, rows: Sequence[tuple]) -> None:
        extra = tuple(
            field.get_db_prep_save(value, connection)
            for field, value in zip(self.extra, self.extra_values, strict=True)
        )
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY {self.table} ({self.column_list}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row + extra)

    def _executemany(self, rows: Sequence[tuple]) -> None:
        columns = self.fields + self.extra
        preps = [field.get_db_prep_save for field in columns]
        placeholders = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {self.table} ({self.column_list}) VALUES ({placeholders})"
        params = [
            [prep(value, connection) for prep, value in zip(preps, row + self.extra_values, strict=True)]
            for row in rows
        ]
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)


def next_id(model: type[Model]) -> int:
    return (model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1


def sequences_reset(models: Sequence[type[Model]]) -> None:
    """Point the id sequences past the explicit ids written (no-op where ids need no sequence)."""
    statements = connection.ops.sequence_reset_sql(no_style(), list(models))
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


def tables_analyze(models: Sequence[type[Model]]) -> None:
    """Fresh planner statistics, so the first page after a seed does not use a bad plan."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def tables_vacuum(models: Sequence[type[Model]]) -> None:
    """VACUUM (ANALYZE) the freshly written tables, as autovacuum would in a running system: the
    visibility map it sets lets PostgreSQL answer from covering indexes without reading rows.
    VACUUM cannot run in a transaction (a test seeding inside one): then statistics only."""
    if connection.vendor != "postgresql":
        return
    command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"{command} {connection.ops.quote_name(model._meta.db_table)}")


def crm_data_exists() -> bool:
    from leads.models import Contact

    return Contact.objects.exists()


def crm_data_flush() -> None:
    """Empty the CRM tables (owners, contacts, calls and everything that points at them) and
    reset their id sequences, the way `manage.py flush` does but for these apps only. Logins,
    groups and schedules stay."""
    tables = [
        model._meta.db_table
        for app_label in CRM_APPS
        for model in apps.get_app_config(app_label).get_models()
        if model._meta.managed and not model._meta.proxy
    ]
    # Revenue snapshots and follow-up figures describe the world being flushed; the next world
    # builds its own.
    tables += [
        apps.get_model("scoring", name)._meta.db_table
        for name in ("RevenueAtRiskSnapshot", "FollowUpFigures")
    ]
    if connection.vendor == "postgresql":
        # TRUNCATE refuses tables with pending deferred FK checks from earlier writes in the same
        # transaction (a test that seeds twice); checking them now clears the queue.
        connection.check_constraints()
    statements = connection.ops.sql_flush(no_style(), tables, reset_sequences=True, allow_cascade=True)
    connection.ops.execute_sql_flush(statements)
