"""Nothing accepted is lost: worker processes killed with SIGKILL mid-flight.

5,000 messages, worker processes delivering to a real SMTP sink; one worker is killed three
times while it sends. Every message must end ``sent``, every message must reach the sink,
and only messages that were in flight at a kill may arrive twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from openesp.messaging.models import Message
from tests.processes import HANG, Processes, run_database_url, wait_until

REPO = Path(__file__).resolve().parents[2]
TOTAL = 5000
BATCH = 50
KILLS = 3


def _start_worker(processes: Processes, sink_port: int, *, lease: int = 10) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENESP_", "DJANGO_"))}
    env.update(
        DATABASE_URL=run_database_url(),
        OPENESP_DATA_DIR=str(settings.DATA_DIR),
        OPENESP_DEFAULT_PROVIDER=f"smtp://127.0.0.1:{sink_port}?security=none",
        OPENESP_LOG_LEVEL="WARNING",
    )
    command = [sys.executable, "-m", "openesp", "worker", "--batch-size", str(BATCH), "--lease", str(lease)]
    return processes.start(
        [*command, "--connections", "4"],
        cwd=REPO,
        env=env,
    )


def _message_ids(sink) -> Counter[str]:
    ids: Counter[str] = Counter()
    for received in sink.messages:
        for line in received.data.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                ids[line.split(b"<", 1)[1].split(b"@", 1)[0].decode()] += 1
                break
    return ids


@pytest.mark.django_db(transaction=True)
def test_it_loses_nothing_when_workers_are_killed(smtp_server_no_tls, processes):
    sink = smtp_server_no_tls
    now = timezone.now()
    Message.objects.bulk_create(
        [
            Message(
                category="transactional",
                from_email="sender@example.org",
                to_email=f"r{i}@example.net",
                subject=f"Message {i}",
                text_body="body",
                created_at=now,
                not_before=now,
            )
            for i in range(TOTAL)
        ],
        batch_size=1000,
    )
    # Two workers on PostgreSQL, sharing the queue; on SQLite one writer at a time, so one.
    count = 2 if connection.vendor == "postgresql" else 1
    workers = [_start_worker(processes, sink.port) for _ in range(count)]
    try:
        for kill in range(KILLS):
            target = len(sink.messages) + 400
            wait_until(lambda t=target: len(sink.messages) >= t, f"progress before kill {kill + 1}")
            victim = workers[0]
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=HANG)
            workers[0] = _start_worker(processes, sink.port)
        wait_until(lambda: not Message.objects.exclude(status="sent").exists(), "every message to be sent")
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=HANG)  # whatever happens, the processes fixture kills what is left

    assert Message.objects.filter(status="sent").count() == TOTAL
    received = _message_ids(sink)
    expected = {str(pk) for pk in Message.objects.values_list("public_id", flat=True)}
    assert set(received) == expected, "a message never reached the sink"
    repeats = sum(n - 1 for n in received.values())
    # At most the messages in flight at each kill (one claimed batch) arrive again.
    assert repeats <= KILLS * BATCH, f"{repeats} repeated deliveries"
    # Workers stopped with SIGTERM exit cleanly.
    assert all(w.returncode == 0 for w in workers)


@pytest.mark.django_db(transaction=True)
def test_it_finishes_the_batch_in_hand_on_sigterm(smtp_server_no_tls, processes):
    sink = smtp_server_no_tls
    now = timezone.now()
    Message.objects.bulk_create(
        [
            Message(category="transactional", from_email="s@example.org", to_email=f"r{i}@example.net",
                    subject="s", text_body="b", created_at=now, not_before=now)
            for i in range(2000)
        ]
    )  # fmt: skip
    worker = _start_worker(processes, sink.port)
    wait_until(lambda: len(sink.messages) >= 1, "the first delivery")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=HANG) == 0
    # Whatever it had claimed was sent and recorded before it left; nothing is left leased.
    assert not Message.objects.filter(status="sending").exists()
    sent = Message.objects.filter(status="sent").count()
    assert 0 < sent < 2000
    assert len(_message_ids(sink)) == sent


@pytest.mark.django_db(transaction=True)
def test_it_shares_the_queue_between_workers_without_repeats(smtp_server_no_tls, processes):
    """Two worker processes, nobody killed: every message is delivered exactly once."""
    sink = smtp_server_no_tls
    now = timezone.now()
    Message.objects.bulk_create(
        [
            Message(category="transactional", from_email="s@example.org", to_email=f"r{i}@example.net",
                    subject="s", text_body="b", created_at=now, not_before=now)
            for i in range(2000)
        ]
    )  # fmt: skip
    workers = [_start_worker(processes, sink.port) for _ in range(2)]
    try:
        wait_until(lambda: not Message.objects.exclude(status="sent").exists(), "every message to be sent")
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=HANG)
    received = _message_ids(sink)
    assert len(received) == 2000
    assert set(received.values()) == {1}
    assert all(w.returncode == 0 for w in workers)
