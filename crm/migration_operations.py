"""Migration operations Django does not ship."""

from django.db.migrations.operations.base import Operation


class SetAutovacuum(Operation):
    """PostgreSQL autovacuum settings for one model's table (a no-op on other databases).

    PostgreSQL's defaults vacuum a table once a fifth of its rows changed. Until then every page
    holding a changed row is no longer marked all-visible, and an index-only scan must read the
    table for each row on such a page; on a table whose rows change all day that is most of them.
    """

    reduces_to_sql = False
    reversible = True

    def __init__(self, model_name: str, **settings: float | int):
        self.model_name, self.settings = model_name, settings

    def deconstruct(self):
        return self.__class__.__qualname__, [self.model_name], self.settings

    def state_forwards(self, app_label, state):
        pass  # storage settings are not part of the model state

    def _table(self, app_label, schema_editor, state) -> str | None:
        if schema_editor.connection.vendor != "postgresql":
            return None
        model = state.apps.get_model(app_label, self.model_name)
        return schema_editor.quote_name(model._meta.db_table)

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if table := self._table(app_label, schema_editor, to_state):
            settings = ", ".join(f"{name} = {value}" for name, value in self.settings.items())
            schema_editor.execute(f"ALTER TABLE {table} SET ({settings})")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if table := self._table(app_label, schema_editor, to_state):
            schema_editor.execute(f"ALTER TABLE {table} RESET ({', '.join(self.settings)})")

    def describe(self) -> str:
        return f"Set autovacuum settings of {self.model_name}"
