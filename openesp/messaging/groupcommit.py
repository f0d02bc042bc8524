"""Group commit: the writes of concurrent requests in one transaction, one commit, one fsync.

Each request of the API parses, authorises and checks its sender on its own thread, then hands
a write (a function that queues its messages and returns its answer) to the committer of the
process. The committer runs every write waiting at that moment, each in a savepoint of one
transaction, commits once, and only then hands each request its result: the rule "202 only
after commit" holds for every one of them. A write that raises is rolled back to its savepoint
alone and its request gets the exception; a commit that fails fails every request of the group,
none of which was answered yet. A process that dies loses only unanswered requests.

Why: with SQLite one writer at a time holds the database lock, and request threads that wait
for it sleep in SQLite's busy handler (1, 2, 5, 10 … ms at a time) — the long tail of the API's
latency under load; PostgreSQL pays a WAL flush per commit. One committer per process takes the
lock once per group. See docs/decisions/015-web-processes-and-group-commit.md and docs/benchmarks.md.

Writes of one kind can also be merged (``committed_together``): the requests hand an item and a
function that writes a list of such items at once, and the committer calls it once for all the
items of that kind in the group — one INSERT per table and one pass of the event listeners
(statistics, webhooks) for, say, sixteen single-recipient sends instead of sixteen. Should the
merged call raise, its savepoint is undone and each item is written again alone in a savepoint
of its own, so a failing item still fails only its own request (decision 020).

Inside an open transaction (a test's, or a caller's own atomic block) the write runs right
there instead: the committer's connection could not see the caller's uncommitted rows.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

from django.db import close_old_connections, connection, transaction

try:
    import fcntl
except ImportError:  # not POSIX: the committers race in SQLite's busy handler, as before
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("openesp.groupcommit")

MAX_GROUP = 64  # writes per transaction: bounds the time one group holds the lock
IDLE_CLOSE = 1.0  # seconds without a write after which the committer closes its connection

Write = Callable[[], Any]
# Writes a list of items at once; one result per item, in order.
WriteMany = Callable[[list[Any]], list[Any]]
# One request's part of a group: (a merged writer and its item) or (None and a plain write).
Entry = tuple[WriteMany | None, Any, Future[Any]]


class GroupCommitter:
    def __init__(self) -> None:
        self._pending: queue.SimpleQueue[Entry] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self.groups = 0  # transactions committed (for tests and benchmarks)
        self.writes = 0  # writes in them

    def run[T](self, write: Callable[[], T]) -> T:
        """``write()`` committed: in a group by the committer, or here inside an open transaction."""
        if connection.in_atomic_block:
            with transaction.atomic():
                return write()
        return self._hand_over((None, write, Future()))  # type: ignore[no-any-return]

    def run_together(self, write_many: WriteMany, item: Any) -> Any:
        """``write_many([item])[0]``, committed; merged with the group's other items for ``write_many``."""
        if connection.in_atomic_block:
            with transaction.atomic():
                return write_many([item])[0]
        return self._hand_over((write_many, item, Future()))

    def _hand_over(self, entry: Entry) -> Any:
        self._ensure_thread()
        self._pending.put(entry)
        return entry[2].result()

    def _ensure_thread(self) -> None:
        with self._lock:
            # A forked web process inherits the object but not the thread: start its own.
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pending = queue.SimpleQueue()
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._loop, name="group-commit", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                group = [self._pending.get(timeout=IDLE_CLOSE)]
            except queue.Empty:
                # Idle: give the connection back rather than hold it open between bursts.
                connection.close()
                continue
            with _writers_turn():
                # Gathered once this process's turn has come, not before: on SQLite the wait
                # for the lock file lasts as long as another process's group, and what
                # arrived meanwhile joins this group instead of waiting for the next one.
                while len(group) < MAX_GROUP:
                    try:
                        group.append(self._pending.get_nowait())
                    except queue.Empty:
                        break
                self._commit(group)

    def _commit(self, group: list[Entry]) -> None:
        results: list[tuple[Future[Any], Any]] = []
        merged: dict[WriteMany, list[tuple[Any, Future[Any]]]] = {}
        alone: list[tuple[Write, Future[Any]]] = []
        for write_many, item, done in group:
            if write_many is None:
                alone.append((item, done))
            else:
                merged.setdefault(write_many, []).append((item, done))
        try:
            close_old_connections()
            with transaction.atomic():
                for write_many, entries in merged.items():
                    if len(entries) > 1 and self._write_merged(write_many, entries, results):
                        continue
                    # One item, or the merged call failed: each alone, as a plain write.
                    alone += [(functools.partial(_first, write_many, item), done) for item, done in entries]
                for write, done in alone:
                    try:
                        with transaction.atomic():  # a savepoint: a failing write undoes only itself
                            results.append((done, write()))
                    except BaseException as exc:  # handed to the request that owns it
                        done.set_exception(exc)
        except BaseException as exc:  # the commit failed: no write of the group stands
            log.warning("group commit of %d writes failed: %s", len(group), exc)
            # Every request of the group not yet answered hears why — also those whose write
            # never ran because the failure came first (the transaction could not begin).
            for _writer, _item, done in group:
                if not done.done():
                    done.set_exception(exc)
            connection.close()  # start the next group on a fresh connection
            return
        self.groups += 1
        self.writes += len(results)
        for done, result in results:
            done.set_result(result)

    @staticmethod
    def _write_merged(
        write_many: WriteMany, entries: list[tuple[Any, Future[Any]]], results: list[tuple[Future[Any], Any]]
    ) -> bool:
        """Write ``entries``' items in one call and one savepoint; False (nothing written) if it raised."""
        try:
            with transaction.atomic():
                answers = write_many([item for item, _done in entries])
        except Exception as exc:  # each item is tried again alone, and fails alone
            log.info("merged write of %d items failed (%s): writing each alone", len(entries), exc)
            return False
        results += [(done, answer) for (_item, done), answer in zip(entries, answers, strict=True)]
        return True


def _first(write_many: WriteMany, item: Any) -> Any:
    return write_many([item])[0]


@contextlib.contextmanager
def _writers_turn() -> Iterator[None]:
    """On SQLite, wait for this process's turn at the database among the web processes.

    SQLite lets one writer in at a time, and a writer that finds the lock taken sleeps in its
    busy handler (1, 2, 5 … 100 ms at a time) and retries: with two web processes, one
    committer could lose the race again and again, and its requests waited seconds (decision
    015). ``flock`` on a file beside the database queues the committers in the kernel instead,
    which wakes the next one the moment the lock is free: each process gets its turn.
    """
    path = _lock_path()
    if path is None:
        yield
        return
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _lock_path() -> str | None:
    """The lock file of the database, for SQLite on a system with ``flock``; None otherwise."""
    if connection.vendor != "sqlite" or fcntl is None:
        return None
    name = str(connection.settings_dict["NAME"])
    if not name or name == ":memory:" or name.startswith("file:"):
        return None  # a database of this process alone: no other process to wait for
    return f"{name}-commit.lock"


_committer = GroupCommitter()


def committed[T](write: Callable[[], T]) -> T:
    """Run ``write`` and return its result once the transaction that holds it has committed."""
    return _committer.run(write)


def committed_together[I, T](write_many: Callable[[list[I]], list[T]], item: I) -> T:
    """``write_many([item])[0]``, returned once committed; the group's other items for the same
    ``write_many`` are written in the same call (each alone again should that call raise)."""
    return _committer.run_together(write_many, item)  # type: ignore[no-any-return]


def stats() -> tuple[int, int]:
    """(groups committed, writes in them) by this process's committer."""
    return _committer.groups, _committer.writes
