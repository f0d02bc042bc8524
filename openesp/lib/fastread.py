"""Reading model rows on the hot path with SQL planned once, not compiled on every call.

The API's key check runs on every request: as an ORM query (``select_related`` of the key's
user and workspace) Django compiled it anew each time, which was most of the check's cost
(profile in docs/benchmarks.md, "Accepting mail over HTTP"). A ``Columns`` names a model's
columns under a table alias for a hand-written SELECT, and turns the values of one row back
into a model instance exactly as a queryset would: the backend's and the fields' converters
(dates on SQLite, JSON, UUIDs, booleans), then ``Model.from_db``. A plan is made once per
database alias, as ``fastinsert``'s are: the converters read nothing of the connection they
were found on but its kind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]


class Columns[M: models.Model]:
    """Every concrete column of ``model`` as ``alias.column``, and the way back to instances."""

    def __init__(self, model: type[M], alias: str, connection: BaseDatabaseWrapper) -> None:
        quote = connection.ops.quote_name
        self.model = model
        self.fields = list(model._meta.concrete_fields)
        # Only the model's own column names and a fixed alias: no caller text reaches the SQL.
        self.sql = ", ".join(f"{alias}.{quote(str(f.column))}" for f in self.fields)
        self._attnames = [f.attname for f in self.fields]
        self._converters: list[tuple[int, list[Converter], Any]] = []
        for index, field in enumerate(self.fields):
            column = field.get_col(alias)
            found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if found:
                self._converters.append((index, found, column))

    def __len__(self) -> int:
        return len(self.fields)

    def instance(self, values: Sequence[Any], connection: BaseDatabaseWrapper) -> M:
        """The instance of one row's values (this plan's columns, in order) read on ``connection``."""
        row = list(values)
        for index, converters, column in self._converters:
            for convert in converters:
                row[index] = convert(row[index], column, connection)
        return self.model.from_db(connection.alias, self._attnames, row)
