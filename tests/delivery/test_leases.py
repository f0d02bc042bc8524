"""Leases that are short and still safe: a worker that starts takes back at once the leases of
this host's dead workers, and a live worker's heartbeat renews its own.

Without the take-back, the messages a killed worker had claimed wait out its whole lease before
any worker sends them again; without the heartbeat, a batch longer than the lease would be
claimed again by another worker while it is still being sent.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from openesp.delivery.heartbeat import STUCK_AFTER, Heartbeat, LetGo
from openesp.delivery.queue import claim, reclaim_dead_leases, renew_leases
from openesp.delivery.worker import Worker
from openesp.lib.models import ConcurrencySlot
from openesp.lib.workers import gone_on_this_host
from openesp.messaging.models import Message, Status
from tests.delivery.test_crash import _message_ids, _start_worker
from tests.processes import HANG, wait_until

HOST = socket.gethostname()


def _dead_pid() -> int:
    """The PID of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _leased(owner: str, n: int = 1) -> list[Message]:
    now = timezone.now()
    return Message.objects.bulk_create(
        [
            Message(from_email="s@example.org", to_email=f"{owner.replace(':', '-')}-{i}@example.net", subject="s",
                    text_body="b", status=Status.SENDING, lease_owner=owner, lease_until=now + timedelta(hours=1),
                    attempts=1)
            for i in range(n)
        ]
    )  # fmt: skip


def test_it_tells_a_dead_process_of_this_host_from_the_rest():
    assert gone_on_this_host(f"{HOST}:{_dead_pid()}:abcdef")
    assert not gone_on_this_host(f"{HOST}:{os.getppid()}:abcdef")  # alive
    assert not gone_on_this_host(f"{HOST}:{os.getpid()}:abcdef")  # this very process
    assert not gone_on_this_host(f"elsewhere.example:{_dead_pid()}:abcdef")  # cannot know
    for odd in ["", HOST, f"{HOST}:", f"{HOST}:x:1", f"{HOST}:{10**30}:1", "no-colon"]:
        assert not gone_on_this_host(odd)


@pytest.mark.django_db
def test_the_leases_of_dead_workers_of_this_host_are_released_and_no_others():
    dead = f"{HOST}:{_dead_pid()}:aaaaaa"
    alive = f"{HOST}:{os.getppid()}:bbbbbb"
    remote = f"elsewhere.example:{_dead_pid()}:cccccc"
    orphans = _leased(dead, 3)
    _leased(alive)
    _leased(remote)
    ConcurrencySlot.objects.create(key="smtp:1", holder=dead, expires_at=10**12)
    ConcurrencySlot.objects.create(key="smtp:1", holder=alive, expires_at=10**12)

    assert claim("newcomer", limit=100) == []  # every lease is still running
    assert reclaim_dead_leases() == 3
    assert claim("newcomer", limit=100) == sorted(m.pk for m in orphans)
    assert set(ConcurrencySlot.objects.values_list("holder", flat=True)) == {alive}
    assert reclaim_dead_leases() == 0  # nothing left to take back


@pytest.mark.django_db(transaction=True)
def test_a_restarted_worker_sends_what_a_killed_one_had_claimed(smtp_server_no_tls, processes):
    sink = smtp_server_no_tls
    now = timezone.now()
    total = 600
    Message.objects.bulk_create(
        [
            Message(category="transactional", from_email="s@example.org", to_email=f"r{i}@example.net",
                    subject="s", text_body="b", created_at=now, not_before=now)
            for i in range(total)
        ]
    )  # fmt: skip
    # A lease of an hour: the killed worker's messages could not come back within the hang
    # detector's time by running out; only the newcomer's take-back sends them.
    worker = _start_worker(processes, sink.port, lease=3600)
    in_flight = Message.objects.filter(status=Status.SENDING)
    wait_until(lambda: len(sink.messages) >= 100 and in_flight.exists(), "progress before the kill")
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=HANG)
    # The worker claims the next batch while it sends one: it died holding leases.
    assert in_flight.exists()
    worker = _start_worker(processes, sink.port, lease=3600)
    try:
        wait_until(lambda: not Message.objects.exclude(status="sent").exists(), "every message to be sent")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=HANG)
    assert set(_message_ids(sink)) == {str(p) for p in Message.objects.values_list("public_id", flat=True)}


# --- the heartbeat --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_renewing_extends_the_workers_own_leases_and_slots_only():
    mine, other = _leased(f"{HOST}:1:mine", 2), _leased(f"{HOST}:1:other")
    Message.objects.filter(pk=mine[0].pk).update(lease_until=timezone.now() + timedelta(seconds=1))
    ConcurrencySlot.objects.create(key="smtp:1", holder=f"{HOST}:1:mine", expires_at=1)
    ConcurrencySlot.objects.create(key="smtp:1", holder=f"{HOST}:1:other", expires_at=1)
    before = timezone.now()
    assert renew_leases(f"{HOST}:1:mine", timedelta(hours=2)) == 2
    for message in Message.objects.filter(pk__in=[m.pk for m in mine]):
        assert message.lease_until is not None and message.lease_until >= before + timedelta(hours=2)
    (untouched,) = Message.objects.filter(pk=other[0].pk)
    assert untouched.lease_until is not None and untouched.lease_until < before + timedelta(hours=2)
    slots = dict(ConcurrencySlot.objects.values_list("holder", "expires_at"))
    assert slots[f"{HOST}:1:mine"] > time.time() + 3600 and slots[f"{HOST}:1:other"] == 1


@pytest.mark.django_db
def test_a_let_go_lease_is_not_renewed_until_the_message_is_claimed_again():
    owner = f"{HOST}:1:mine"
    kept, dropped = _leased(owner, 2)
    let_go = LetGo(timedelta(seconds=1))
    let_go.add([dropped.pk])
    assert renew_leases(owner, timedelta(hours=2), let_go=let_go.current()) == 1
    assert Message.objects.get(pk=dropped.pk).lease_until < timezone.now() + timedelta(hours=1, minutes=30)
    let_go.discard([dropped.pk])  # the worker claimed it again
    assert renew_leases(owner, timedelta(hours=2), let_go=let_go.current()) == 2
    assert kept.pk not in let_go.current()


@pytest.mark.django_db
def test_a_lease_that_has_run_out_is_not_renewed():
    (message,) = _leased(f"{HOST}:1:late")
    Message.objects.filter(pk=message.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert renew_leases(f"{HOST}:1:late", timedelta(hours=2)) == 0


@pytest.mark.django_db
def test_a_stuck_worker_stops_renewing():
    (message,) = _leased(f"{HOST}:1:stuck")
    soon = timezone.now() + timedelta(seconds=5)
    Message.objects.filter(pk=message.pk).update(lease_until=soon)
    Heartbeat(f"{HOST}:1:stuck", timedelta(hours=1), lambda: time.monotonic() - STUCK_AFTER - 1).beat()
    message.refresh_from_db()
    assert message.lease_until == soon


@pytest.mark.django_db(transaction=True)
def test_a_batch_longer_than_the_lease_is_not_taken_by_another_worker(smtp_server_no_tls, settings):
    """One-second leases, a server that takes half a second a message: the batch lasts several
    leases, and a rival that keeps claiming gets nothing while the heartbeat renews them."""
    settings.OPENESP_DEFAULT_PROVIDER = f"smtp://{smtp_server_no_tls.host}:{smtp_server_no_tls.port}?security=none"
    smtp_server_no_tls.answer_slowly(0.5)
    now = timezone.now()
    Message.objects.bulk_create(
        [Message(from_email="s@example.org", to_email=f"r{i}@example.net", subject="s", text_body="b",
                 created_at=now, not_before=now) for i in range(8)]
    )  # fmt: skip
    worker = Worker("heartbeat-test", batch_size=8, pool_size=1, lease=timedelta(seconds=1))
    stop = threading.Event()

    def work() -> None:
        try:
            worker.run(stop, until_empty=True)
        finally:
            connections.close_all()  # this thread's own connection, or the test database stays in use

    thread = threading.Thread(target=work)
    thread.start()
    taken: list[int] = []
    try:
        wait_until(lambda: Message.objects.filter(lease_owner="heartbeat-test").exists(), "the worker's claim")
        while thread.is_alive():
            taken += claim("rival", limit=100, lease=timedelta(hours=1))
            time.sleep(0.2)
    finally:
        stop.set()
        thread.join(timeout=HANG)
    assert taken == []
    assert Message.objects.filter(status=Status.SENT).count() == 8
    assert len(smtp_server_no_tls.messages) == 8


def _catches_sigterm(pid: int) -> bool:
    """Whether the process has a handler for SIGTERM yet (Linux: the SigCgt mask of /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1]
    return bool(int(caught, 16) & (1 << (signal.SIGTERM - 1)))


def test_a_worker_stopped_while_it_starts_exits_with_success(processes, tmp_path):
    # A supervisor may stop a worker it has just restarted: nothing is claimed yet, so that is
    # a clean exit, not a death by signal. The signal goes at the first moment the process
    # handles SIGTERM at all, which is before Django is set up (a second or so before the
    # worker loop would start and log it).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENESP_", "DJANGO_", "DATABASE_"))}
    env.update(OPENESP_DATA_DIR=str(tmp_path), OPENESP_LOG_LEVEL="INFO")
    command = [sys.executable, "-m", "openesp", "worker", "--build-processes", "0"]
    worker = processes.start(command, env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + HANG
    while not _catches_sigterm(worker.pid) and worker.poll() is None:
        assert time.monotonic() < deadline, "the worker never handled SIGTERM"
        time.sleep(0.002)
    worker.send_signal(signal.SIGTERM)
    _out, err = worker.communicate(timeout=HANG)
    assert worker.returncode == 0, err.decode()
    assert b"started" not in err  # it left before the loop ran, so it claimed nothing


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connections["default"].vendor != "postgresql", reason="SQLite has no row locks: the writer lock serialises"
)
def test_renewing_skips_the_messages_a_record_holds_instead_of_waiting_for_them():
    """The heartbeat (its own connection) and the worker's record step (another) lock the same
    messages: were the heartbeat to wait for a row the record holds while holding rows the record
    wants next, PostgreSQL would find a deadlock and fail the record (seen in a full run). The
    record is releasing those leases anyway, so the heartbeat skips them."""
    owner = f"{HOST}:1:mine"
    held, free = _leased(owner, 2)
    locked, release, done = threading.Event(), threading.Event(), threading.Event()

    def record_step() -> None:
        try:
            with transaction.atomic():
                list(Message.objects.select_for_update().filter(pk=held.pk).values_list("pk", flat=True))
                locked.set()
                release.wait(timeout=HANG)
        finally:
            connections.close_all()
            done.set()

    thread = threading.Thread(target=record_step)
    thread.start()
    try:
        assert locked.wait(timeout=HANG)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '20s'")  # a hang detector: the old renewal waited here
        try:
            assert renew_leases(owner, timedelta(hours=2)) == 1
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = 0")
    finally:
        release.set()
        thread.join(timeout=HANG)
    assert done.is_set()
    renewed = Message.objects.get(pk=free.pk).lease_until
    assert renewed is not None and renewed > timezone.now() + timedelta(hours=1, minutes=30)


# --- a record step that fails ---------------------------------------------------------------------


@contextmanager
def refused_sent_events() -> Iterator[Callable[[], None]]:
    """The database refuses every ``sent`` event (a real trigger, not a patched function), so the
    worker's record step fails as it would on a full disk or a broken constraint, until the
    returned ``heal()`` drops the trigger."""
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgres:
            cursor.execute(
                "CREATE FUNCTION openesp_test_refuse() RETURNS trigger AS "
                "$$ BEGIN RAISE EXCEPTION 'injected fault: sent events refused'; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER openesp_test_refuse BEFORE INSERT ON messaging_event FOR EACH ROW "
                "WHEN (NEW.type = 'sent') EXECUTE FUNCTION openesp_test_refuse()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER openesp_test_refuse BEFORE INSERT ON messaging_event WHEN NEW.type = 'sent' "
                "BEGIN SELECT RAISE(ABORT, 'injected fault: sent events refused'); END"
            )
    healed = False

    def heal() -> None:
        nonlocal healed
        if healed:
            return
        healed = True
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER openesp_test_refuse" + (" ON messaging_event" if postgres else ""))
            if postgres:
                cursor.execute("DROP FUNCTION openesp_test_refuse()")

    try:
        yield heal
    finally:
        heal()


def _queued(n: int) -> None:
    now = timezone.now()
    Message.objects.bulk_create(
        [Message(from_email="s@example.org", to_email=f"r{i}@example.net", subject="s", text_body="b",
                 created_at=now, not_before=now) for i in range(n)]
    )  # fmt: skip


@contextmanager
def _running(worker: Worker) -> Iterator[None]:
    """``worker`` running in a thread for the ``with`` block; stopped and gone after it."""
    stop = threading.Event()

    def work() -> None:
        try:
            worker.run(stop, idle_sleep=0.1)
        finally:
            connections.close_all()  # this thread's own connection, or the test database stays in use

    thread = threading.Thread(target=work)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=HANG)
    assert not thread.is_alive()


@pytest.mark.django_db(transaction=True)
def test_a_record_that_fails_once_is_tried_again_and_nothing_is_sent_twice(smtp_server_no_tls, settings, caplog):
    settings.OPENESP_DEFAULT_PROVIDER = f"smtp://{smtp_server_no_tls.host}:{smtp_server_no_tls.port}?security=none"
    _queued(3)
    # The first retry comes 2 s after the failure: time for the test to heal the database.
    worker = Worker("record-retry", batch_size=10, pool_size=1, lease=timedelta(seconds=1))
    worker.record_retry_delays = (2.0, 30.0)
    with refused_sent_events() as heal, _running(worker):
        wait_until(lambda: "trying again" in caplog.text, "the record step's first failure")
        heal()
        wait_until(lambda: Message.objects.filter(status=Status.SENT).count() == 3, "the record's retry")
    assert len(smtp_server_no_tls.messages) == 3  # recorded on the retry: not sent again


@pytest.mark.django_db(transaction=True)
def test_a_batch_whose_record_keeps_failing_is_let_go_and_sent_again(smtp_server_no_tls, settings):
    """The record step failing for good must not leave the batch ``sending`` for as long as the
    worker lives (its heartbeat used to renew every lease it held, this batch's too): the worker
    stops renewing those leases, they run out, and the messages are sent again — repeats limited
    to what was in flight, as after a crash."""
    settings.OPENESP_DEFAULT_PROVIDER = f"smtp://{smtp_server_no_tls.host}:{smtp_server_no_tls.port}?security=none"
    _queued(3)
    worker = Worker("record-fails", batch_size=10, pool_size=1, lease=timedelta(seconds=1))
    worker.record_retry_delays = (0.1,)
    with refused_sent_events() as heal, _running(worker):
        # Sent, not recorded, let go; sent again by the same worker once the leases ran out.
        wait_until(lambda: len(smtp_server_no_tls.messages) >= 6, "the batch to be sent again")
        heal()
        wait_until(lambda: Message.objects.filter(status=Status.SENT).count() == 3, "the batch's record")
    assert not Message.objects.filter(status=Status.SENDING).exists()
