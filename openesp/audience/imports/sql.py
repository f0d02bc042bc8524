"""Bulk SQL for the import's writes: multi-row INSERTs and ``IN`` look-ups of thousands of keys,
through the driver's own cursor on Django's connection and transaction.

On PostgreSQL a column of values travels as ONE text parameter, its values joined by a control
character that no checked value contains, and the server splits it (``string_to_array``) and
inserts set-wise (``INSERT … SELECT … FROM unnest(…)``). psycopg encodes a list parameter (or a
COPY row) value by value in Python, ~1.5 µs each: for a million imported rows, with a dozen
values a row, that was the runner's largest cost; joining strings is ~100× cheaper.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connection

_IN_CHUNK = 900  # ids or keys per IN (…): under every SQLite build's variable limit
# Unit and record separators: not printable, so no checked name, address, language tag or time
# zone holds them, and JSON escapes them; a column that does (a raw line of the problem report)
# is sent the slow way.
_SEP = "\x1f"
_NULL = "\x1e"
_SPLIT = "E'\\x1f', E'\\x1e'"  # string_to_array's separator and NULL, as SQL
_PG_TYPES: dict[str, dict[str, str]] = {}


def chunks[T](items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class DriverCursor:
    """A DB-API cursor of the driver itself, for statements written with ``%s``, on the
    connection (and in the transaction) Django has open.

    Not Django's: on SQLite its wrapper rewrites every ``%s`` with a regular expression (~0.5 ms
    on a statement with a few thousand parameters); on PostgreSQL Django binds on the client,
    quoting each parameter into the SQL in Python, which made a batch ~4× slower than sending
    the parameters apart (server-side binding), as a plain psycopg cursor does."""

    def __init__(self) -> None:
        self.sqlite = connection.vendor == "sqlite"
        connection.ensure_connection()
        if self.sqlite:
            self.cursor: Any = connection.connection.cursor()
        else:
            import psycopg

            self.cursor = psycopg.Cursor(connection.connection)

    def __enter__(self) -> DriverCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cursor.close()

    def _sql(self, sql: str) -> str:
        return sql.replace("%s", "?") if self.sqlite else sql

    # The driver's errors become Django's (IntegrityError…), which the job's retry catches.
    def execute(self, sql: str, params: Sequence[Any]) -> None:
        with connection.wrap_database_errors:
            self.cursor.execute(self._sql(sql), params)

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        with connection.wrap_database_errors:
            self.cursor.executemany(self._sql(sql), params)

    def fetchall(self) -> list[tuple[Any, ...]]:
        with connection.wrap_database_errors:
            return list(self.cursor.fetchall())


def _packed(values: Sequence[Any]) -> str | None:
    """``values`` as one ``_SEP``-joined text (None as ``_NULL``), or None if one of them
    contains a separator. A leading separator keeps a single empty value from becoming no value
    (``string_to_array('', …)`` is empty); the server drops it with ``[2:]``."""
    text = _SEP + _SEP.join([_NULL if v is None else str(v) for v in values])
    if text.count(_SEP) != len(values) or text.count(_NULL) != sum(v is None for v in values):
        return None
    return text


def _pg_types(table: str) -> dict[str, str]:
    """Column → SQL type of one of our tables, read from the catalog once per process."""
    types = _PG_TYPES.get(table)
    if types is None:
        with DriverCursor() as cursor:
            cursor.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = CAST(%s AS regclass) AND attnum > 0 AND NOT attisdropped",
                [table],
            )
            types = _PG_TYPES[table] = dict(cursor.fetchall())
    return types


def _unnest_insert(
    cursor: DriverCursor, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], returning: str
) -> bool:
    """One ``INSERT … SELECT FROM unnest`` of ``rows``; False (nothing done) if a value holds a
    separator. A column with one value for every row (the workspace, the time) is a scalar."""
    types = _pg_types(table)
    select: list[str] = []
    scalars: list[Any] = []
    arrays: list[str] = []
    packed: list[str] = []
    for name, values in zip(columns, zip(*rows, strict=True), strict=True):
        if values.count(values[0]) == len(values):
            select.append(f"CAST(%s AS {types[name]})")
            scalars.append(values[0])
            continue
        text = _packed(values)
        if text is None:
            return False
        select.append(f"u.c{len(arrays)}")
        arrays.append(f"CAST((string_to_array(%s, {_SPLIT}))[2:] AS {types[name]}[])")
        packed.append(text)
    if arrays:
        source = f"unnest({', '.join(arrays)}) AS u({', '.join(f'c{i}' for i in range(len(arrays)))})"
        params: list[Any] = [*scalars, *packed]
    else:  # every column the same: that row, as many times as asked
        source = "generate_series(1, %s)"
        params = [*scalars, len(rows)]
    sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(select)} FROM {source}"  # noqa: S608
    if returning:
        sql += f" RETURNING {returning}"
    cursor.execute(sql, params)
    return True


def insert_rows(
    table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], returning: str = ""
) -> list[tuple[Any, ...]]:
    """Bulk INSERT, with the ``returning`` columns of the new rows (in no particular order):
    on PostgreSQL one ``INSERT … SELECT FROM unnest`` (COPY if a value holds a separator and
    nothing is to be returned); on SQLite multi-row statements of a few hundred rows."""
    if not rows:
        return []
    # Only our own table and column names are interpolated; the values are parameters.
    names = ", ".join(columns)
    out: list[tuple[Any, ...]] = []
    with DriverCursor() as cursor:
        if not cursor.sqlite:
            if _unnest_insert(cursor, table, columns, rows, returning):
                return cursor.fetchall() if returning else []
            assert not returning, "values with separators are only inserted without RETURNING"
            with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return []
        one = "(" + ", ".join(["%s"] * len(columns)) + ")"
        tail = f" RETURNING {returning}" if returning else ""
        for chunk in chunks(rows, max(1, min(500, 30000 // len(columns)))):
            sql = f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * len(chunk))}{tail}"  # noqa: S608
            cursor.execute(sql, [value for row in chunk for value in row])
            if returning:
                out.extend(cursor.fetchall())
    return out


def select_in(sql: str, fixed: Sequence[Any], values: Sequence[Any], array: str = "text") -> list[tuple[Any, ...]]:
    """``sql`` with ``IN ({in_})`` matching ``values``: an array parameter on PostgreSQL, a list of
    parameters (in chunks, under SQLite's limit) on SQLite."""
    out: list[tuple[Any, ...]] = []
    with DriverCursor() as cursor:
        if not cursor.sqlite:
            # The array's type named: psycopg sends small ids as smallint[], and compared with
            # that the bigint column's index went unused (a scan of the table per batch).
            packed = _packed(values)
            if packed is not None:
                match = f"= ANY(CAST((string_to_array(%s, {_SPLIT}))[2:] AS {array}[]))"
                cursor.execute(sql.replace("IN ({in_})", match), [*fixed, packed])
            else:
                cursor.execute(sql.replace("IN ({in_})", f"= ANY(CAST(%s AS {array}[]))"), [*fixed, list(values)])
            return cursor.fetchall()
        for chunk in chunks(values, _IN_CHUNK):
            cursor.execute(sql.format(in_=", ".join(["%s"] * len(chunk))), [*fixed, *chunk])
            out.extend(cursor.fetchall())
    return out
