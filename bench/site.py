"""A throw-away openesp site for a benchmark: a fresh data directory and, when asked, a scratch
PostgreSQL database made beside the one named; both gone afterwards."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def _scratch_database(url: str) -> tuple[str, str, str]:
    """(URL of a new scratch database on the same server, its name, the admin URL)."""
    parts = urlsplit(url)
    name = f"openesp_bench_{secrets.token_hex(4)}"
    return urlunsplit(parts._replace(path=f"/{name}")), name, url


def _admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


@contextlib.contextmanager
def scratch_site(prefix: str, database_url: str | None) -> Iterator[Path]:
    """Set the environment up as openesp reads it (``OPENESP_DATA_DIR``, ``DATABASE_URL``: SQLite
    in the data directory, or the scratch database on ``database_url``'s server) and yield the
    data directory; drop the database and remove the directory when done."""
    data_dir = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ.update(
        OPENESP_DATA_DIR=str(data_dir), OPENESP_LOG_LEVEL="WARNING", DJANGO_SETTINGS_MODULE="openesp.settings"
    )
    os.environ.pop("DATABASE_URL", None)
    scratch = None
    if database_url:
        url, name, admin = _scratch_database(database_url)
        _admin(admin, f'CREATE DATABASE "{name}"')
        scratch = (name, admin)
        os.environ["DATABASE_URL"] = url
    try:
        yield data_dir
    finally:
        if scratch is not None:
            from django.db import connections

            connections.close_all()
            _admin(scratch[1], f'DROP DATABASE IF EXISTS "{scratch[0]}"')
        shutil.rmtree(data_dir, ignore_errors=True)
