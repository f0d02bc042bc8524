"""``openesp smtp`` as a process: several processes on the same ports (PostgreSQL), refused on SQLite."""

from __future__ import annotations

import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import time

import pytest
from django.db import connection

from openesp.accounts.apikeys import create_api_key
from openesp.messaging.models import Message
from tests.processes import HANG
from tests.smtpd.test_crash import REPO, _free_port, _smtp_env, _start_smtp


@pytest.mark.django_db(transaction=True)
def test_several_processes_share_the_ports(alice, processes):
    if connection.vendor == "sqlite":
        pytest.skip("several server processes need PostgreSQL")
    _row, key = create_api_key(alice, scopes=["messages.send"])
    port, tls_port = _free_port(), _free_port()
    server = _start_smtp(processes, port, tls_port, "--processes", "2")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the self-signed certificate; TLS is not what is tested
    for n in range(6):  # new connections, spread by the kernel over both processes
        with smtplib.SMTP_SSL("127.0.0.1", tls_port, timeout=HANG, context=context) as client:
            client.login("apikey", key)
            client.sendmail(
                "alice@example.org", [f"r{n}@example.net"], f"From: alice@example.org\r\nSubject: {n}\r\n\r\nx\r\n"
            )
    assert Message.objects.count() == 6
    server.send_signal(signal.SIGTERM)
    assert server.wait(timeout=HANG) == 0


@pytest.mark.django_db(transaction=True)
def test_sqlite_refuses_several_processes(processes, settings):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite refusal")
    from tests.smtpd.test_crash import _smtp_env

    result = subprocess.run(
        [sys.executable, "-m", "openesp", "smtp", "--processes", "2"], cwd=REPO,
        env=_smtp_env(_free_port(), _free_port()), capture_output=True, text=True, timeout=HANG, check=False,
    )  # fmt: skip
    assert result.returncode != 0 and "SQLite has a single writer" in result.stderr


@pytest.mark.django_db(transaction=True)
def test_start_up_is_put_out_of_the_collectors_way(processes):
    port, tls_port = _free_port(), _free_port()
    env = _smtp_env(port, tls_port) | {"OPENESP_LOG_LEVEL": "INFO"}
    command = [sys.executable, "-m", "openesp", "smtp"]
    server = processes.start(command, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + HANG
    while True:  # until it listens: then it also stops cleanly on SIGTERM
        try:
            socket.create_connection(("127.0.0.1", tls_port), timeout=5).close()
            break
        except OSError:
            assert server.poll() is None and time.monotonic() < deadline, "openesp smtp did not start"
            time.sleep(0.1)
    server.send_signal(signal.SIGTERM)
    _out, logged = server.communicate(timeout=HANG)
    assert server.returncode == 0, logged
    assert logged.count("objects frozen out of the garbage collector's way") == 1, logged
