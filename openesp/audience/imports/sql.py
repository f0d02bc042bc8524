"""Bulk SQL for the import's writes: multi-row INSERT (COPY on PostgreSQL) and ``IN`` look-ups
of thousands of keys, through the driver's own cursor on Django's connection and transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connection

_IN_CHUNK = 900  # ids or keys per IN (…): under every SQLite build's variable limit


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


def insert_rows(table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Bulk INSERT: COPY on PostgreSQL; on SQLite multi-row statements of a few hundred rows."""
    if not rows:
        return
    # Only our own table and column names are interpolated; the values are parameters.
    names = ", ".join(columns)
    with DriverCursor() as cursor:
        if not cursor.sqlite:
            # COPY: psycopg parses a statement's placeholders in Python, which for thousands of
            # parameters cost more than the insert itself.
            with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        one = "(" + ", ".join(["%s"] * len(columns)) + ")"
        for chunk in chunks(rows, max(1, min(500, 30000 // len(columns)))):
            sql = f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * len(chunk))}"  # noqa: S608
            cursor.execute(sql, [value for row in chunk for value in row])


def select_in(sql: str, fixed: Sequence[Any], values: Sequence[Any], array: str = "text") -> list[tuple[Any, ...]]:
    """``sql`` with ``IN ({in_})`` matching ``values``: an array parameter on PostgreSQL, a list of
    parameters (in chunks, under SQLite's limit) on SQLite."""
    out: list[tuple[Any, ...]] = []
    with DriverCursor() as cursor:
        if not cursor.sqlite:
            # The array's type named: psycopg sends small ids as smallint[], and compared with
            # that the bigint column's index went unused (a scan of the table per batch).
            cursor.execute(sql.replace("IN ({in_})", f"= ANY(CAST(%s AS {array}[]))"), [*fixed, list(values)])
            return cursor.fetchall()
        for chunk in chunks(values, _IN_CHUNK):
            cursor.execute(sql.format(in_=", ".join(["%s"] * len(chunk))), [*fixed, *chunk])
            out.extend(cursor.fetchall())
    return out


def next_ids(table: str, count: int) -> list[int]:
    """``count`` fresh ids from the sequence of ``table``'s id column (PostgreSQL)."""
    with DriverCursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count])
        return [row[0] for row in cursor.fetchall()]
