"""At most once: the marks that let a killed worker's reminders and receipts never go out twice.

Mail of the ``AT_MOST_ONCE`` categories (reminders, response receipts) must never reach its
recipient twice (decision 018). Right before its SMTP transaction (or provider call) begins, the
worker commits a start mark on the message; once the provider accepted it, an acceptance mark. A
lease that runs out on a started message (its worker died) then ends it instead of sending it
again (``queue.settle_unfinished``): ``sent`` when acceptance was marked, else ``unconfirmed``.

The marks are group-committed: the messages that reach the point of sending while a mark is
being written wait for the next one, so one statement covers every connection ready at once.
The event loop must not wait on the database (the ORM refuses to run in it), so the statement
runs in a thread of its own — on the loop thread's database connection, which the worker uses
for nothing else while the loop sends (and which, in tests, holds the test's transaction).
Messages of other categories are never marked and cost nothing here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from openesp.delivery.queue import mark_accepted, mark_started

Mark = Callable[[str, list[int]], set[int]]


class Marks:
    def __init__(self, worker: str) -> None:
        self.worker = worker
        self._pending: dict[Mark, list[tuple[int, asyncio.Future[bool]]]] = {mark_started: [], mark_accepted: []}
        self._flushing: set[Mark] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._executor: ThreadPoolExecutor | None = None
        self._shared: BaseDatabaseWrapper | None = None
        self._connection: BaseDatabaseWrapper | None = None

    def bind(self) -> None:
        """Take the calling thread's database connection for the marks; called where the loop
        is run from (outside it: inside, Django gives every task a connection of its own)."""
        self._connection = connections[DEFAULT_DB_ALIAS]

    async def started(self, ids: list[int]) -> set[int]:
        """Mark the attempt of ``ids`` begun (committed when this returns); the ids that may be
        sent: those still leased to this worker. A failed mark raises: send none of them."""
        return await self._mark(mark_started, ids)

    async def accepted(self, ids: list[int]) -> None:
        """Mark ``ids`` accepted by the provider."""
        await self._mark(mark_accepted, ids)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None
        if self._shared is not None:
            self._shared.dec_thread_sharing()
            self._shared = None

    async def _mark(self, mark: Mark, ids: list[int]) -> set[int]:
        if not ids:
            return set()
        loop = asyncio.get_running_loop()
        futures = []
        for pk in ids:
            future: asyncio.Future[bool] = loop.create_future()
            self._pending[mark].append((pk, future))
            futures.append(future)
        if mark not in self._flushing:
            self._flushing.add(mark)
            if self._connection is None:
                raise RuntimeError("Marks.bind() was not called before the loop ran")
            task = loop.create_task(self._flush(mark, self._connection))
            self._tasks.add(task)  # a reference, so that the task is not collected while it runs
            task.add_done_callback(self._tasks.discard)
        done = await asyncio.gather(*futures, return_exceptions=True)
        for outcome in done:
            if isinstance(outcome, BaseException):
                raise outcome
        return {pk for pk, ok in zip(ids, done, strict=True) if ok is True}

    async def _flush(self, mark: Mark, connection: BaseDatabaseWrapper) -> None:
        """Write what waits, one statement at a time, until nothing waits."""
        loop = asyncio.get_running_loop()
        try:
            while waiting := self._pending[mark]:
                self._pending[mark] = []
                ids = [pk for pk, _f in waiting]
                try:
                    kept = await loop.run_in_executor(self._thread(connection), self._write, connection, mark, ids)
                except Exception as exc:
                    for _pk, future in waiting:
                        future.set_exception(exc)
                    continue
                for pk, future in waiting:
                    future.set_result(pk in kept)
        finally:
            self._flushing.discard(mark)

    def _thread(self, connection: BaseDatabaseWrapper) -> ThreadPoolExecutor:
        if self._shared is not connection:
            if self._shared is not None:
                self._shared.dec_thread_sharing()
            connection.inc_thread_sharing()  # used by one thread at a time: the loop waits meanwhile
            self._shared = connection
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="openesp-marks")
        return self._executor

    def _write(self, connection: BaseDatabaseWrapper, mark: Mark, ids: list[int]) -> set[int]:
        connections[DEFAULT_DB_ALIAS] = connection
        return mark(self.worker, ids)
