"""Set-wise writes: ``INSERT INTO … SELECT`` from a queryset, so that no Python loop goes over
the rows (a campaign makes a million recipients, links and messages at a time)."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Field, Model, QuerySet


def insert_select(model: type[Model], fields: list[str], rows: QuerySet[Any]) -> int:
    """Insert into ``model``'s ``fields`` the rows of ``rows`` (a ``values_list`` of as many
    columns, in that order); the number of rows inserted."""
    sql, params = rows.query.sql_with_params()
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(_column(model, name)) for name in fields)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) {sql}", params)
        return int(cursor.rowcount)


def _column(model: type[Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, Field) and field.column
    return field.column
