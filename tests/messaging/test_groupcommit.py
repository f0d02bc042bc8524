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
    gate, holding = threading.Event(), threading.Event()

    def first() -> int:
        holding.set()  # the committer has closed this group: it runs `first` alone
        assert gate.wait(HANG)  # and holds on while the others queue up
        return _record("first")

    groups_before, _ = groupcommit.stats()
    with ThreadPoolExecutor(12) as pool:
        held = pool.submit(_in_thread(groupcommit.committed), first)
        assert holding.wait(HANG)
        deadline = time.monotonic() + HANG
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


def test_what_arrives_while_the_committer_waits_for_its_turn_joins_its_group():
    """On SQLite the web processes' committers take turns at a lock file: a committer waiting
    for its turn gathers what arrives meanwhile into the group it then commits."""
    import fcntl

    path = groupcommit._lock_path()
    if path is None:
        pytest.skip("the lock file is SQLite's")
    groups_before, _ = groupcommit.stats()
    with open(path, "a+b") as other_process, ThreadPoolExecutor(6) as pool:
        fcntl.flock(other_process, fcntl.LOCK_EX)  # another web process's turn
        first = pool.submit(_in_thread(groupcommit.committed), lambda: _record("t0"))
        deadline = time.monotonic() + HANG
        while groupcommit._committer._pending.qsize() and time.monotonic() < deadline:
            time.sleep(0.01)  # the committer has taken it and waits for its turn
        time.sleep(0.2)  # (so that, gathering before its turn, it would have gathered nothing more)
        later = [pool.submit(_in_thread(groupcommit.committed), lambda n=n: _record(f"t{n}")) for n in range(1, 6)]
        while groupcommit._committer._pending.qsize() < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        fcntl.flock(other_process, fcntl.LOCK_UN)
        ids = [first.result(HANG), *(f.result(HANG) for f in later)]
    assert len(set(ids)) == 6
    assert groupcommit.stats()[0] - groups_before == 1  # one transaction for all six


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


def test_when_the_group_cannot_even_begin_every_caller_hears_why(monkeypatch):
    """A failure before any write ran (the connection cannot be checked or opened) fails
    every request of the group; none is left waiting for an answer."""
    from django.db import OperationalError

    def unreachable() -> None:
        raise OperationalError("the database is unreachable")

    monkeypatch.setattr(groupcommit, "close_old_connections", unreachable)
    with ThreadPoolExecutor(2) as pool:
        calls = [pool.submit(_in_thread(groupcommit.committed), lambda n=n: _record(f"x{n}")) for n in range(2)]
        for call in calls:
            with pytest.raises(OperationalError):
                call.result(HANG)
    monkeypatch.undo()
    assert not IdempotencyRecord.objects.filter(key__startswith="x").exists()


def test_merged_items_are_written_in_one_call_and_a_failing_item_fails_alone():
    """``committed_together``: the group's items for one writer go to it in one call; when
    that call raises (here a duplicate key), each item is written again alone, and only the
    duplicate's request fails."""
    gate, holding = threading.Event(), threading.Event()
    calls: list[list[str]] = []

    def write_many(keys: list[str]) -> list[int]:
        calls.append(list(keys))
        return [_record(key) for key in keys]

    def first(key: str) -> int:
        holding.set()
        assert gate.wait(HANG)  # the others queue up meanwhile
        return _record(key)

    with ThreadPoolExecutor(12) as pool:
        held = pool.submit(_in_thread(groupcommit.committed), lambda: first("held"))
        assert holding.wait(HANG)
        deadline = time.monotonic() + HANG
        good = [pool.submit(_in_thread(groupcommit.committed_together), write_many, f"m{n}") for n in range(4)]
        while groupcommit._committer._pending.qsize() < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        gate.set()
        held.result(HANG)
        assert len({f.result(HANG) for f in good}) == 4
        assert calls == [["m0", "m1", "m2", "m3"]]  # one call for the four

        calls.clear()
        holding.clear()
        gate.clear()
        held = pool.submit(_in_thread(groupcommit.committed), lambda: first("held2"))
        assert holding.wait(HANG)
        mixed = [pool.submit(_in_thread(groupcommit.committed_together), write_many, k) for k in ("n0", "m0", "n1")]
        while groupcommit._committer._pending.qsize() < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        gate.set()
        held.result(HANG)
        assert mixed[0].result(HANG) > 0 and mixed[2].result(HANG) > 0
        with pytest.raises(IntegrityError):
            mixed[1].result(HANG)
    assert calls[0] == ["n0", "m0", "n1"] and sorted(calls[1:]) == [["m0"], ["n0"], ["n1"]]
    assert sorted(IdempotencyRecord.objects.values_list("key", flat=True)) == sorted(
        ["held", "held2", "m0", "m1", "m2", "m3", "n0", "n1"]
    )
