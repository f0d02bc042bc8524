"""Processes that tests start: a generous hang detector, and none left behind.

``HANG`` bounds every wait on another process (its start, its progress, its exit). It detects
a hang; it is not a speed check: a test suite often runs beside others on a loaded 2-core
machine, where starting Python and Django alone can take many seconds, so it is sized for that.

The ``processes`` fixture starts each process in a session of its own and, when the test ends
however it ends, kills that whole process group: the process and anything it started itself
(a worker's build processes, an import runner's helper) are gone before the next test.

``Served`` is ``openesp serve`` so started, on a free port with a data directory of its own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

HANG = 300.0  # seconds
REPO = Path(__file__).resolve().parents[1]


class Processes:
    def __init__(self) -> None:
        self.started: list[subprocess.Popen[Any]] = []

    def start(self, args: Sequence[str], **kw: Any) -> subprocess.Popen[Any]:
        proc: subprocess.Popen[Any] = subprocess.Popen(args, start_new_session=True, **kw)
        self.started.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[Any], sig: int = signal.SIGTERM) -> int:
        """Send ``sig`` and wait for the exit; its exit status."""
        proc.send_signal(sig)
        return proc.wait(timeout=HANG)

    def end_all(self) -> None:
        for proc in self.started:
            with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone already
                os.killpg(proc.pid, signal.SIGKILL)  # its session's group: the process and its children
            if proc.poll() is None:
                proc.kill()
            try:
                proc.communicate(timeout=HANG)
            except (ValueError, OSError):
                proc.wait(timeout=HANG)  # its pipes were read and closed by the test already


@pytest.fixture
def processes() -> Iterator[Processes]:
    tracker = Processes()
    try:
        yield tracker
    finally:
        tracker.end_all()


def wait_until(condition: Callable[[], object], what: str, *, every: float = 0.05) -> None:
    """Until ``condition`` holds, asked ``every`` seconds (longer for a condition that costs:
    the processes waited for share the cores with the asking); HANG is a hang detector, not a
    speed check."""
    deadline = time.monotonic() + HANG
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(every)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_database_url() -> str:
    """The ``DATABASE_URL`` of the database this test runs on, for the processes it starts.

    Only a test that may use the database gets it (pytest-django refuses the connection to any
    other): the PostgreSQL run leaves out the tests that use none (``tests/conftest.py``), so a
    test that hands the run's database to another process must say that it uses it.
    """
    from django.conf import settings
    from django.db import connection

    connection.ensure_connection()
    db = settings.DATABASES["default"]
    if connection.vendor == "postgresql":
        user = f"{db['USER']}@" if db.get("USER") else ""
        return f"postgres://{user}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    return f"sqlite:///{db['NAME']}"


def clean_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENESP_", "DATABASE_URL", "DJANGO_"))}
    env["OPENESP_DATA_DIR"] = str(data_dir)
    return env


class Served:
    """``openesp serve`` in a subprocess on a free port, with a fresh data directory (or a copy
    of ``migrated``, one the migrations have run in)."""

    def __init__(
        self, processes: Processes, tmp_path: Path, *args: str, port: int = 0, migrated: Path | None = None, **env: str
    ) -> None:
        self.data_dir = tmp_path / "var"
        if migrated is not None:
            shutil.copytree(migrated, self.data_dir)
        self.port = port or free_port()
        # Its SMTP submission server on free ports too: the default ones may be taken.
        self.smtp_port, self.smtps_port = free_port(), free_port()
        smtp = {"OPENESP_SMTP_PORT": str(self.smtp_port), "OPENESP_SMTPS_PORT": str(self.smtps_port)}
        self.env = clean_env(self.data_dir) | smtp | env
        self.proc = processes.start(
            [sys.executable, "-m", "openesp", "serve", "--port", str(self.port), *args],
            cwd=REPO,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def wait_until_serving(self) -> None:
        deadline = time.monotonic() + HANG
        status = None
        while time.monotonic() < deadline and status is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/login/", timeout=HANG) as response:
                    status = response.status
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.3)
        assert status == 200, self.proc.stdout.read() if self.proc.poll() is not None else "no answer"

    def openesp(self, *args: str) -> str:
        """Another ``openesp`` command against the same data directory."""
        result = subprocess.run(
            [sys.executable, "-m", "openesp", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=HANG,
            check=True,
        )
        return result.stdout

    def queue_a_message(self) -> int:
        code = (
            "from openesp.messaging.actions import enqueue_message; "
            "print(enqueue_message(category='system', to_email='rcpt@example.com', subject='s', text_body='t').pk)"
        )
        return int(self.openesp("shell", "--no-imports", "-c", code).strip())

    def message(self, pk: int) -> tuple[str, int]:
        with sqlite3.connect(self.data_dir / "openesp.sqlite3") as db:
            status, attempts = db.execute(
                "SELECT status, attempts FROM messaging_message WHERE id = ?", (pk,)
            ).fetchone()
        return status, attempts

    def stop(self) -> str:
        """SIGTERM, and the whole output once it has exited."""
        self.proc.send_signal(signal.SIGTERM)
        output, _ = self.proc.communicate(timeout=HANG)
        return output
