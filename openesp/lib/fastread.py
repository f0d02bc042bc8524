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

import json
from collections.abc import Callable, Collection, Sequence
from typing import Any

from django.db import connections, models, router
from django.db.backends.base.base import BaseDatabaseWrapper

from openesp.lib.fastmodel import bare

Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]


class Columns[M: models.Model]:
    """Every concrete column of ``model`` (or the fields ``names``) as ``alias.column``, and the
    way back to instances (of every column) or to values."""

    def __init__(
        self, model: type[M], alias: str, connection: BaseDatabaseWrapper, names: Sequence[str] | None = None
    ) -> None:
        quote = connection.ops.quote_name
        self.model = model
        concrete = list(model._meta.concrete_fields)
        named = {f.attname: f for f in concrete} | {f.name: f for f in concrete}  # "workspace_id" or "workspace"
        self.fields = concrete if names is None else [named[name] for name in names]
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
        """The instance of one row's values (this plan's columns, in order) read on ``connection``:
        what ``Model.from_db`` makes (fields not read are deferred), without ``Model.__init__``,
        which walked every field through its descriptor (half of loading a claimed batch's
        messages). As ``lib.fastmodel.like``: no ``pre_init``/``post_init`` signal is sent, and
        openesp has no model that listens to them or sets a field through a descriptor of its own."""
        fields = dict(zip(self._attnames, self.values(values, connection), strict=True))
        return bare(self.model, fields, db=connection.alias)

    def values(self, values: Sequence[Any], connection: BaseDatabaseWrapper) -> list[Any]:
        """One row's values as the fields hold them (what ``values_list`` gives)."""
        row = list(values)
        for index, converters, column in self._converters:
            for convert in converters:
                row[index] = convert(row[index], column, connection)
        return row


# Rows by a list of primary keys, the list as one parameter: an ``IN`` of 500 placeholders was
# compiled by the ORM value by value on every call (the worker loads and records each claimed
# batch so).
_ONE_OF = {"sqlite": "IN (SELECT value FROM json_each(%s))", "postgresql": "= ANY(%s)"}
# (model, database, condition, fields: None every one, () the key alone, locked) → plan
_BY_IDS: dict[tuple[type[models.Model], str, str, tuple[str, ...] | None, bool], tuple[str, Columns[Any] | None]] = {}


def by_ids[M: models.Model](
    model: type[M], ids: Collection[int], *, where: str = "", params: Sequence[Any] = ()
) -> list[M]:
    """The rows of ``model`` whose primary key is one of ``ids``, in primary-key order, as
    instances (as a queryset gives them). ``where`` narrows them further: a condition of the
    code's own (never a caller's text) on the table's alias ``t``, with ``params`` for its ``%s``."""
    if not ids:
        return []
    connection = connections[router.db_for_read(model)]
    sql, columns = _by_ids_plan(model, connection, where, None, lock=False)
    assert columns is not None
    rows = fetch(connection, sql, ids, params)
    return [columns.instance(row, connection) for row in rows]


def values_by_ids(model: type[models.Model], ids: Collection[int], names: tuple[str, ...]) -> list[list[Any]]:
    """The values of the fields ``names`` of the rows whose primary key is one of ``ids``, in
    primary-key order, as ``values_list`` gives them (dates converted, JSON decoded)."""
    if not ids:
        return []
    connection = connections[router.db_for_read(model)]
    sql, columns = _by_ids_plan(model, connection, "", names, lock=False)
    assert columns is not None
    return [columns.values(row, connection) for row in fetch(connection, sql, ids, ())]


def keys_of(
    model: type[models.Model], ids: Collection[int], *, where: str = "", params: Sequence[Any] = (), lock: bool = False
) -> list[int]:
    """The primary keys among ``ids`` of the rows that match ``where`` (as for ``by_ids``), in
    order. With ``lock`` the rows are locked until the transaction ends (``FOR UPDATE`` on
    PostgreSQL; on SQLite a writing transaction holds the whole database already)."""
    if not ids:
        return []
    connection = connections[router.db_for_write(model)]
    sql, _columns = _by_ids_plan(model, connection, where, (), lock=lock)
    return [key for (key,) in fetch(connection, sql, ids, params)]


def _by_ids_plan(
    model: type[models.Model], connection: BaseDatabaseWrapper, where: str, names: tuple[str, ...] | None, *, lock: bool
) -> tuple[str, Columns[Any] | None]:
    plan = _BY_IDS.get((model, connection.alias, where, names, lock))
    if plan is None:
        quote = connection.ops.quote_name
        columns = Columns(model, "t", connection, names) if names != () else None
        pk = model._meta.pk
        assert pk is not None
        key = f"t.{quote(str(pk.column))}"
        also = f" AND {where}" if where else ""
        locked = " FOR UPDATE" if lock and connection.vendor == "postgresql" else ""
        # Only the model's own table and column names and the code's own condition.
        sql = (
            f"SELECT {columns.sql if columns else key} FROM {quote(model._meta.db_table)} t "  # noqa: S608
            f"WHERE {key} {_ONE_OF[connection.vendor]}{also} ORDER BY {key}{locked}"
        )
        plan = _BY_IDS[(model, connection.alias, where, names, lock)] = (sql, columns)
    return plan


def one_of(connection: BaseDatabaseWrapper) -> str:
    """The condition "is one of the ids" after a column, for SQL of one's own run by ``fetch``:
    the ids as one parameter."""
    return _ONE_OF[connection.vendor]


def fetch(connection: BaseDatabaseWrapper, sql: str, ids: Collection[int], params: Sequence[Any] = ()) -> list[Any]:
    """The rows of ``sql``, whose first parameter is the ``ids`` of a ``one_of``, then ``params``."""
    wanted = list(ids) if connection.vendor == "postgresql" else json.dumps(list(ids))
    with connection.cursor() as cursor:
        cursor.execute(sql, [wanted, *params])
        rows: list[Any] = cursor.fetchall()
    return rows


def load_related(objs: Sequence[models.Model], *names: str) -> None:
    """Set the objects of each foreign key ``names`` on ``objs`` (all of one model), as
    ``prefetch_related`` would: one query per relation for the distinct keys, each object
    shared by the rows that point at it. Django's prefetch went through the relation's
    descriptor per row and compiled an ``IN`` of every key (a quarter of the worker's database
    thread, loading its claimed batches)."""
    if not objs:
        return
    meta = objs[0]._meta
    for name in names:
        field = meta.get_field(name)
        assert isinstance(field, models.ForeignKey), name
        attname = field.attname
        wanted = {key for obj in objs if (key := getattr(obj, attname)) is not None}
        found = {row.pk: row for row in by_ids(field.related_model, wanted)}
        for obj in objs:
            key = getattr(obj, attname)
            field.set_cached_value(obj, None if key is None else found.get(key))
