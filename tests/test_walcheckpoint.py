"""openesp.lib.walcheckpoint: SQLite's log copied back by a thread, not by a committing request."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from openesp.lib import walcheckpoint


@pytest.mark.django_db(transaction=True)
def test_connections_leave_the_log_to_the_checkpoint_thread_up_to_40_mb():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's write-ahead log")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == 10_000


@pytest.mark.django_db
def test_without_sqlite_there_is_no_thread_to_run():
    if connection.vendor == "sqlite":
        pytest.skip("PostgreSQL checkpoints by itself")
    walcheckpoint.run_forever(threading.Event())  # returns at once, though never told to stop
