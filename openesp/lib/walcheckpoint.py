"""SQLite's write-ahead log copied back into the database by a thread of its own.

In WAL mode a commit appends to the ``-wal`` file; a *checkpoint* copies those pages into the
database file and syncs it, so that the log can start again from its beginning. By default the
connection whose commit takes the log past 1,000 pages runs that checkpoint itself, right after
its commit. In ``openesp serve`` that connection is usually a web process's group committer
(``messaging.groupcommit``), which does it while holding the lock that the committers of the web
processes take turns at: the other process's requests, parsed and waiting only for their commit,
wait out the copy and its fsync too. Under ``bench.api_accept``, where requests of 500 messages
write a few MB a second, that lock was held all of the time.

So every connection leaves checkpoints alone until the log is ten times larger (40 MB:
``wal_autocheckpoint`` in settings.DATABASES, a safety net for a process that runs without
this thread, such as ``openesp send`` or ``openesp worker`` on their own), and ``openesp serve``
runs ``run_forever`` in a thread of its own, which makes a PASSIVE checkpoint every
``INTERVAL``. PASSIVE takes no lock a writer needs: commits go on while it copies. Measured
against checkpoints by the committers (docs/benchmarks.md, round 8): 18–32 % more messages a
second in batches of 500 and with 1,000 recipients a request (decision 030).

Durability is unchanged: a commit is durable once its log pages are synced
(``synchronous=FULL``), whoever copies them later, and a crash during a checkpoint is recovered
from the log as after an automatic one. Turning checkpoints off altogether is no answer: the log
then grows without end, and single sends got slower (a fifth, in one run; probably as every
sync had to extend the file); after a checkpoint that copied everything the log is rewritten
from its start.
"""

from __future__ import annotations

import logging
import threading

from django.db import connection

log = logging.getLogger(__name__)

INTERVAL = 0.1  # seconds between two checkpoints of the thread


def checkpoint() -> None:
    """One PASSIVE checkpoint on this thread's connection (what it copied is not needed: the
    next one, 0.1 s later, copies what this one could not)."""
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")


def run_forever(stop: threading.Event) -> None:
    """Checkpoint every ``INTERVAL`` until ``stop`` is set (SQLite only: a no-op otherwise)."""
    if connection.vendor != "sqlite":
        return
    try:
        while not stop.wait(INTERVAL):
            try:
                checkpoint()
            except Exception as exc:  # a locked or vanished database: the next round tries again
                log.warning("WAL checkpoint failed: %s", exc)
                connection.close()
    finally:
        connection.close()
