"""Processes that tests start: a generous hang detector, and none left behind.

``HANG`` bounds every wait on another process (its start, its progress, its exit). It detects
a hang; it is not a speed check: a test suite often runs beside others on a loaded 2-core
machine, where starting Python and Django alone can take many seconds, so it is sized for that.

The ``processes`` fixture starts each process in a session of its own and, when the test ends
however it ends, kills that whole process group: the process and anything it started itself
(a worker's build processes, an import runner's helper) are gone before the next test.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

HANG = 300.0  # seconds


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
