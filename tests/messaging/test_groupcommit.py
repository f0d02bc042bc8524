"""Group commit: concurrent writes share one transaction; each caller hears only after the commit."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import IntegrityError, connection

from openesp.messaging import groupcommit
from openesp.messaging.models import IdempotencyRecord
from tests.processes import HANG

pytestmark = pytest.mark.django_db(transaction=True)


def _record(key: str) -> int:
    return IdempotencyRecord.objects.create(
        owner="test", key=key, request_hash="h", status_code=202, response={"k": key}
    ).pk


def _in_thread(fn):
    def run(*args):
        try:
            return fn(*args)
        finally:
            connection.close()

    return run


def _seen_elsewhere(key: str) -> bool:
    """Whether another connection sees the row: it has been committed."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(_in_thread(lambda: IdempotencyRecord.objects.filter(key=key).exists())).result()


def test_writes_waiting_together_commit_together_and_a_failure_is_its_own():
    gate = threading.Event()

    def first() -> int:
        assert gate.wait(HANG)  # holds the committer while the others queue up
        return _record("first")

    groups_before, _ = groupcommit.stats()
    with ThreadPoolExecutor(12) as pool:
        held = pool.submit(_in_thread(groupcommit.committed), first)
        deadline = time.monotonic() + HANG
        while not groupcommit._committer._pending.empty() and time.monotonic() < deadline:
            time.sleep(0.01)  # the committer has taken `first` and waits on the gate
        waiting = [pool.submit(_in_thread(groupcommit.committed), lambda n=n: _record(f"w{n}")) for n in range(8)]
        duplicate = pool.submit(_in_thread(groupcommit.committed), lambda: _record("w0"))  # unique (owner, key)
        while groupcommit._committer._pending.qsize() < 9 and time.monotonic() < deadline:
            time.sleep(0.01)
        gate.set()
        assert held.result(HANG) > 0
        ids = [f.result(HANG) for f in waiting]
        with pytest.raises(IntegrityError):
            duplicate.result(HANG)
    assert len(set(ids)) == 8
    # `first` alone, then the nine that waited in one transaction (the duplicate's savepoint undone).
    assert groupcommit.stats()[0] - groups_before == 2
    assert sorted(IdempotencyRecord.objects.values_list("key", flat=True)) == sorted(
        ["first", *(f"w{n}" for n in range(8))]
    )


def test_the_caller_hears_only_after_the_commit():
    with ThreadPoolExecutor(1) as pool:
        pool.submit(_in_thread(groupcommit.committed), lambda: _record("after")).result(HANG)
    assert _seen_elsewhere("after")


def test_inside_an_open_transaction_the_write_runs_in_it():
    from django.db import transaction

    with transaction.atomic():
        groupcommit.committed(lambda: _record("inner"))
        assert not _seen_elsewhere("inner")  # not committed yet: it is the caller's transaction
    assert _seen_elsewhere("inner")
