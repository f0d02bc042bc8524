"""A worker that starts takes back at once the leases of this host's dead workers.

Without it, the messages a killed worker had claimed wait out its whole lease (5 minutes by
default) before any worker sends them again.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from openesp.delivery.queue import claim, reclaim_dead_leases
from openesp.lib.models import ConcurrencySlot
from openesp.lib.workers import gone_on_this_host
from openesp.messaging.models import Message, Status
from tests.delivery.test_crash import _message_ids, _start_worker, _wait
from tests.processes import HANG

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
    _wait(lambda: len(sink.messages) >= 100 and in_flight.exists(), "progress before the kill")
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=HANG)
    # The worker claims the next batch while it sends one: it died holding leases.
    assert in_flight.exists()
    worker = _start_worker(processes, sink.port, lease=3600)
    try:
        _wait(lambda: not Message.objects.exclude(status="sent").exists(), "every message to be sent")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=HANG)
    assert set(_message_ids(sink)) == {str(p) for p in Message.objects.values_list("public_id", flat=True)}
