"""Bulk inserts for the hot paths (accepting mail, writing events) without the ORM's per-value
compilation.

Django's ``bulk_create`` prepares every value of every row through the query compiler (an
expression check, ``pre_save``, ``get_db_prep_save`` per field per row): for the 1,000 Messages
of one 1,000-recipient request that was more than half of the request's time (profile in
docs/benchmarks.md). Here the INSERT is planned once per model and connection, the only values
converted are those whose database form differs from the Python one (dates, UUIDs, JSON,
bytes), and the primary keys come back from ``RETURNING`` as with ``bulk_create`` — which
SQLite (3.35+) and PostgreSQL both speak. No signals are sent, as with ``bulk_create``.

On PostgreSQL the rows go as one array per column (``INSERT … SELECT * FROM unnest(%s::type[],
…)``) rather than a ``VALUES`` list: psycopg parses every query it is given for its ``%s``
placeholders and caches only short ones, and for a 500-row ``VALUES`` that parse cost more than
the insert itself (profile in docs/benchmarks.md, "Provider events in").
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections, models, router
from django.db.backends.base.base import BaseDatabaseWrapper

Convert = Callable[[Any], Any] | None

# A planned insert: the statement's head and tail, each field's attribute name, its converter,
# and whether its values repeat across rows (_REPEATING).
Plan = tuple[str, str, list[str], list[Convert], list[bool]]
_PLANS: dict[tuple[type[models.Model], str], Plan] = {}
_ARRAY_BATCH = 5000  # rows per statement on PostgreSQL: the statement's size does not grow with them
# Fields whose values repeat across the rows of one insert (every row's ``created_at`` is the
# same ``now``; a batch's empty ``headers`` or shared ``tags``): converted once per object.
_REPEATING = (models.DateTimeField, models.DateField, models.JSONField)


def _converter(field: models.Field[Any, Any], connection: BaseDatabaseWrapper) -> Convert:
    """How a value of ``field`` becomes a query parameter; None: as it is."""
    if isinstance(field, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return connection.ops.adapt_datefield_value
    if isinstance(field, models.JSONField) and connection.vendor == "sqlite":
        return _sqlite_json(field, connection)
    if isinstance(field, models.UUIDField | models.JSONField | models.BinaryField | models.DecimalField):

        def prepare(value: Any) -> Any:
            return field.get_db_prep_save(value, connection)

        return prepare
    return None


def _sqlite_json(field: models.JSONField[Any, Any], connection: BaseDatabaseWrapper) -> Callable[[Any], Any]:
    """A JSON value as SQLite stores it: what ``get_db_prep_save`` gives there (``json.dumps``
    with the field's encoder) for the plain values a model holds, without its three layers of
    calls (five JSON fields a message: a tenth of accepting a batch). The empty ``{}`` and
    ``[]`` of most rows are not serialised at all; anything else (a lazy string, an expression)
    still goes through ``get_db_prep_save``."""
    encoder = field.encoder

    def dumps(value: Any) -> Any:
        kind = type(value)
        if kind is dict or kind is list:
            return json.dumps(value, cls=encoder) if value else _EMPTY_JSON[kind]
        if kind is str or kind is int or kind is float or kind is bool:
            return json.dumps(value, cls=encoder)
        return field.get_db_prep_save(value, connection)

    return dumps


_EMPTY_JSON: dict[type, str] = {dict: "{}", list: "[]"}


def _once_per_object(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``convert`` that answers again for the same object (by identity) as it did last time.
    Made per ``insert_all`` call: within one, the objects are not changed under it (a dict
    changed between two calls is converted anew)."""
    last: list[tuple[Any, Any]] = [(_NOTHING, None)]

    def converted(value: Any) -> Any:
        seen, result = last[0]
        if seen is value:
            return result
        result = convert(value)
        last[0] = (value, result)
        return result

    return converted


_NOTHING = object()


def _plan(model: type[models.Model], connection: BaseDatabaseWrapper) -> Plan:
    key = (model, connection.alias)
    plan = _PLANS.get(key)
    if plan is None:
        quote = connection.ops.quote_name
        fields = [f for f in model._meta.concrete_fields if not isinstance(f, models.AutoField)]
        pk = model._meta.pk
        assert pk is not None
        # Only the model's own table and column names, quoted: no caller text reaches the SQL.
        columns = ", ".join(quote(str(f.column)) for f in fields)
        if connection.vendor == "postgresql":
            # Column types are the model's own (``db_type``), e.g. varchar(16), jsonb, bigint.
            arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
            head = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) SELECT * FROM unnest({arrays})"  # noqa: S608
        else:
            head = f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES "  # noqa: S608
        tail = f" RETURNING {quote(str(pk.column))}"
        converters = [_converter(f, connection) for f in fields]
        repeating = [isinstance(f, _REPEATING) for f in fields]
        plan = (head, tail, [f.attname for f in fields], converters, repeating)
        _PLANS[key] = plan
    return plan


def insert_all[M: models.Model](objs: Sequence[M], *, batch: int = 500) -> Sequence[M]:
    """INSERT ``objs`` (all of one model, primary keys unset) and set their primary keys."""
    if not objs:
        return objs
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    head, tail, names, converters, repeating = _plan(model, connection)
    if connection.vendor == "postgresql":
        return _insert_arrays(objs, connection, head + tail, names, converters)
    # SQLite allows 32,766 parameters in a statement; keep well under for wide rows.
    batch = max(1, min(batch, 30_000 // len(names)))
    # SQLite's own placeholders: Django's cursor would rewrite every %s of the statement into ?
    # with a regular expression on each execute — for 500 wide rows, 20,000 of them.
    row = "(" + ", ".join(["?"] * len(names)) + ")"
    pairs = [
        (name, _once_per_object(convert) if convert is not None and repeats else convert)
        for name, convert, repeats in zip(names, converters, repeating, strict=True)
    ]
    with connection.cursor() as cursor:
        for start in range(0, len(objs), batch):
            chunk = objs[start : start + batch]
            params: list[Any] = []
            for obj in chunk:
                for name, convert in pairs:
                    value = getattr(obj, name)
                    params.append(value if convert is None or value is None else convert(value))
            # The driver's own execute, under Django's error translation (an IntegrityError stays
            # django.db's). Bypassed with it: the debug query log, which counts and shows
            # queries; nothing of openesp reads it.
            with connection.wrap_database_errors:
                sqlite3.Cursor.execute(cursor.cursor, head + ", ".join([row] * len(chunk)) + tail, params)
            for obj, (pk,) in zip(chunk, cursor.fetchall(), strict=True):
                obj.pk = pk
                obj._state.adding = False
                obj._state.db = connection.alias
    return objs


def _insert_arrays[M: models.Model](
    objs: Sequence[M], connection: BaseDatabaseWrapper, sql: str, names: list[str], converters: list[Convert]
) -> Sequence[M]:
    """PostgreSQL: one array per column; ``unnest`` yields the rows, and ``RETURNING`` the keys,
    in the arrays' order (as ``bulk_create`` relies on for ``VALUES``)."""
    with connection.cursor() as cursor:
        for start in range(0, len(objs), _ARRAY_BATCH):
            chunk = objs[start : start + _ARRAY_BATCH]
            columns: list[list[Any]] = []
            for name, convert in zip(names, converters, strict=True):
                values = [getattr(obj, name) for obj in chunk]
                if convert is not None:
                    values = [None if value is None else convert(value) for value in values]
                columns.append(values)
            cursor.execute(sql, columns)
            for obj, (pk,) in zip(chunk, cursor.fetchall(), strict=True):
                obj.pk = pk
                obj._state.adding = False
                obj._state.db = connection.alias
    return objs
