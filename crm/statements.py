"""Statements compiled once per process and run many times with new values.

Django builds and compiles a queryset's SQL again on every run. For a statement made of large
expressions (the queue score's CASEs, the fact rebuild's windows and subqueries) run once per
sync page of 50-100 contacts, that cost 20-30 ms a page, where the database answers the reads
in well under a millisecond. A `Statement` is a queryset compiled once, with the values that
change from run to run (the batch's ids, moments derived from now) left as `Slot`s and bound at
each run: the cached SQL depends neither on how many ids a batch has nor on the time.

Whoever caches a Statement keys the cache on everything else its SQL was built from.
"""

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from django.db import NotSupportedError, connection
from django.db.models import BooleanField, Expression, F, Func, QuerySet
from django.db.models.sql.compiler import SQLCompiler
from django.db.models.sql.datastructures import BaseTable


class Slot(Expression):
    """A value bound when the statement runs, not when it is compiled: it compiles to one
    placeholder whose parameter is the slot itself, which `Statement.bind` replaces with
    `bind(values)`, the values given to that run."""

    def as_sql(self, compiler, connection):
        return "%s", [self]

    def bind(self, values: Mapping, connection) -> object:
        raise NotImplementedError


@dataclass(frozen=True)
class Statement:
    """SQL and parameters (some of them Slots) compiled from a queryset, and its compiler for
    converting the rows read. Shared by a process's threads: neither depends on the connection
    that compiled it, only on the database's vendor and the settings."""

    sql: str
    params: tuple
    compiler: SQLCompiler

    @classmethod
    def compile(cls, queryset: QuerySet) -> "Statement":
        compiler = queryset.query.get_compiler(queryset.db)
        sql, params = compiler.as_sql()
        return cls(sql, tuple(params), compiler)

    def around(self, wrap: Callable[[str], str]) -> "Statement":
        """This statement inside another, e.g. a SELECT as the FROM of an UPDATE (no parameter
        may come before it in the outer SQL)."""
        return replace(self, sql=wrap(self.sql))

    def bind(self, **values) -> list:
        return [p.bind(values, connection) if isinstance(p, Slot) else p for p in self.params]

    def rows(self, **values) -> list[tuple]:
        """Run a compiled SELECT, its rows converted as the queryset would have converted them
        (SQLite returns a computed datetime as text, for example)."""
        with connection.cursor() as cursor:
            cursor.execute(self.sql, self.bind(**values))
            fetched = cursor.fetchall()
        return list(self.compiler.results_iter(results=[fetched], tuple_expected=True))

    def execute(self, **values) -> int:
        """Run a compiled write; how many rows it changed."""
        with connection.cursor() as cursor:
            cursor.execute(self.sql, self.bind(**values))
            return cursor.rowcount


class IdsIn(Func):
    """The condition "`field` is one of the ids bound as `ids`", one parameter whatever their
    number: `= ANY(array)` on PostgreSQL, `IN (SELECT value FROM json_each(list))` on SQLite."""

    output_field = BooleanField()

    def __init__(self, field: str) -> None:
        super().__init__(F(field))

    def as_sql(self, compiler, connection, **extra):
        column, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            return f"{column} = ANY(%s::bigint[])", [*params, _Ids()]
        return f"{column} IN (SELECT value FROM json_each(%s))", [*params, _Ids()]


class _Ids(Slot):
    def bind(self, values: Mapping, connection) -> object:
        ids = [int(pk) for pk in values["ids"]]
        return ids if connection.vendor == "postgresql" else json.dumps(ids)


def with_values_bound(queryset: QuerySet, fields: Sequence[str]) -> QuerySet:
    """PostgreSQL: the queryset reading, instead of its model's table, only the rows bound as
    `rows` ((id, values of `fields`) pairs) with those values in place of the stored ones, so
    its expressions give what they will once the values are written. Call it last, on a
    queryset of your own: it changes the query in place."""
    query = queryset.query
    alias = query.get_initial_alias()
    query.alias_map[alias] = _RowsBound(query.model, alias, tuple(fields))
    return queryset


class _RowsBound(BaseTable):
    # (SELECT t.a, v.b, ... FROM table t JOIN unnest(ids, b values, ...) v ON v.id = t.id) alias
    def __init__(self, model, alias: str, fields: tuple[str, ...]) -> None:
        super().__init__(model._meta.db_table, alias)
        self.model, self.fields = model, fields

    def as_sql(self, compiler, connection):
        if connection.vendor != "postgresql":
            raise NotSupportedError("with_values_bound binds arrays (unnest): PostgreSQL only")
        qn = connection.ops.quote_name
        pk = self.model._meta.pk
        bound = [pk, *(self.model._meta.get_field(name) for name in self.fields)]
        columns = ", ".join(
            f"{'v' if field in bound else 't'}.{qn(field.column)}"
            for field in self.model._meta.concrete_fields
        )
        arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in bound)
        names = ", ".join(qn(field.column) for field in bound)
        sql = (
            f"(SELECT {columns} FROM {qn(self.table_name)} t JOIN unnest({arrays}) AS v({names}) "
            f"ON v.{qn(pk.column)} = t.{qn(pk.column)}) {qn(self.table_alias)}"
        )
        return sql, [_RowsColumn(None), *(_RowsColumn(index) for index in range(len(self.fields)))]


class _RowsColumn(Slot):
    # One column of the bound rows as an array: their ids (index None) or a field's values.
    def __init__(self, index: int | None) -> None:
        super().__init__()
        self.index = index

    def bind(self, values: Mapping, connection) -> object:
        if self.index is None:
            return [pk for pk, _ in values["rows"]]
        return [row[self.index] for _, row in values["rows"]]
