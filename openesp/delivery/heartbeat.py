"""A worker's heartbeat: its leases renewed while it lives, so that they can be short.

A lease is how long other workers wait before they send a message again whose worker may have
died. Long leases make a dead worker's messages wait (5 minutes was the default); short ones
would let a slow batch's messages be sent twice. Renewed every third of a lease by a thread of
its own (the worker's threads may be busy sending or claiming for longer than that), a short
lease is both: a live worker keeps its messages, a dead one's come back within a lease.

A worker whose loop has not turned for ``STUCK_AFTER`` is stuck (a hang no timeout caught):
its heartbeat stops renewing, so that its messages go to the other workers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.db import connections

from openesp.delivery.queue import renew_leases

log = logging.getLogger(__name__)

STUCK_AFTER = 3600.0  # seconds without a turn of the worker's loop


class LetGo:
    """The messages whose leases a worker has given up (a batch whose record failed for good,
    or that failed before it was sent): its heartbeat stops renewing them, so that their leases
    run out and they are claimed and sent again, as after a crash — not held ``sending`` for as
    long as the worker lives. Shared by the worker's threads.

    An id leaves the list when this worker claims the message again (its new lease is renewed
    as any other) and, to bound the list, once its lease has surely run out (renewals skip
    leases that have).
    """

    def __init__(self, lease: timedelta) -> None:
        self.lease = lease.total_seconds()
        self._until: dict[int, float] = {}  # message id → monotonic time its lease has run out by
        self._lock = threading.Lock()

    def add(self, ids: Iterable[int]) -> None:
        # A renewal that read the list just before this may still be writing (waiting for the
        # database): its lease runs out one lease after that write. A minute covers the wait.
        until = time.monotonic() + self.lease + 60.0
        with self._lock:
            self._until.update(dict.fromkeys(ids, until))

    def discard(self, ids: Iterable[int]) -> None:
        """Claimed again by this worker: their leases are renewed again."""
        with self._lock:
            for pk in ids:
                self._until.pop(pk, None)

    def current(self) -> list[int]:
        now = time.monotonic()
        with self._lock:
            self._until = {pk: until for pk, until in self._until.items() if until > now}
            return list(self._until)


class Heartbeat:
    def __init__(
        self, worker: str, lease: timedelta, last_turn: Callable[[], float], let_go: LetGo | None = None
    ) -> None:
        """``last_turn``: the ``time.monotonic()`` of the worker loop's latest turn; ``let_go``:
        the messages not to renew."""
        self.worker = worker
        self.lease = lease
        self.every = max(lease.total_seconds() / 3, 0.5)
        self.last_turn = last_turn
        self.let_go = let_go or LetGo(lease)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="openesp-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=max(self.every, 5.0))

    def beat(self) -> None:
        """One renewal, unless the worker is stuck."""
        if time.monotonic() - self.last_turn() > STUCK_AFTER:
            log.warning("worker %s: stuck for %.0f s; its leases are left to run out", self.worker, STUCK_AFTER)
            return
        renew_leases(self.worker, self.lease, let_go=self.let_go.current())

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.every):
                try:
                    self.beat()
                except Exception:  # the database is away: the next beat tries again
                    log.exception("worker %s: renewing its leases failed", self.worker)
        finally:
            connections.close_all()  # this thread's own connection
