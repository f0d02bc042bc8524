"""Nothing that got a 250 is lost: ``openesp smtp`` and ``openesp worker`` killed with SIGKILL
while a client submits, each restarted; every message answered 250 reaches the sink."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings

from openesp.accounts.apikeys import create_api_key
from tests.delivery.test_crash import _start_worker
from tests.processes import HANG, Processes, run_database_url, wait_until

REPO = Path(__file__).resolve().parents[2]
TOTAL = 300


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _smtp_env(port: int, tls_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENESP_", "DJANGO_"))}
    env.update(
        DATABASE_URL=run_database_url(),
        OPENESP_DATA_DIR=str(settings.DATA_DIR),
        OPENESP_SMTP_HOST="127.0.0.1",
        OPENESP_SMTP_PORT=str(port),
        OPENESP_SMTPS_PORT=str(tls_port),
        OPENESP_LOG_LEVEL="WARNING",
    )
    return env


def _start_smtp(processes: Processes, port: int, tls_port: int, *args: str) -> subprocess.Popen[bytes]:
    env = _smtp_env(port, tls_port)
    proc = processes.start([sys.executable, "-m", "openesp", "smtp", *args], cwd=REPO, env=env)
    deadline = time.monotonic() + HANG
    while True:  # until it listens
        try:
            socket.create_connection(("127.0.0.1", tls_port), timeout=5).close()
            return proc
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "openesp smtp did not start"
            time.sleep(0.1)


class Client(threading.Thread):
    """Submits numbered messages one after another over TLS; remembers which got a 250."""

    def __init__(self, port: int, key: str) -> None:
        super().__init__(daemon=True)
        self.port, self.key = port, key
        self.accepted: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the server's self-signed certificate; TLS is not what is tested
        n = 0
        while not self.stop.is_set() and n < TOTAL:
            try:
                with smtplib.SMTP_SSL("127.0.0.1", self.port, timeout=60, context=context) as client:
                    client.login("apikey", self.key)
                    while not self.stop.is_set() and n < TOTAL:
                        message = f"From: alice@example.org\r\nTo: r{n}@example.net\r\nSubject: seq {n}\r\n\r\nbody\r\n"
                        client.sendmail("alice@example.org", [f"r{n}@example.net"], message)
                        self.accepted.append(n)  # only after the 250
                        n += 1
            except (OSError, smtplib.SMTPException):
                n += 1  # that one may or may not have been queued: not counted as accepted
                time.sleep(0.2)


def _subjects(sink) -> set[str]:
    """The sequence numbers that reached the sink."""
    prefix = b"Subject: seq "
    return {
        line[len(prefix) :].decode()
        for received in list(sink.messages)
        for line in received.data.split(b"\r\n")
        if line.startswith(prefix)
    }


@pytest.mark.django_db(transaction=True)
def test_every_message_answered_250_is_delivered_across_kills(alice, smtp_server_no_tls, processes):
    sink = smtp_server_no_tls
    _row, key = create_api_key(alice, scopes=["messages.send"])
    port, tls_port = _free_port(), _free_port()
    server = _start_smtp(processes, port, tls_port)
    worker = _start_worker(processes, sink.port)
    client = Client(tls_port, key)
    client.start()
    try:
        wait_until(lambda: len(client.accepted) >= 60, "submissions before killing the SMTP server")
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=HANG)
        server = _start_smtp(processes, port, tls_port)
        wait_until(lambda: len(sink.messages) >= 40, "deliveries before killing the worker")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=HANG)
        wait_until(lambda: len(client.accepted) >= 150, "submissions while no worker runs")
        worker = _start_worker(processes, sink.port)
        client.join(HANG)
        wanted = {str(n) for n in client.accepted}
        wait_until(lambda: wanted <= _subjects(sink), "every accepted message at the sink")
    finally:
        client.stop.set()
        for proc in (server, worker):
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=HANG)
    assert len(client.accepted) >= 150
