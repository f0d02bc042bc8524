"""A worker's build processes end with it, also when the worker is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.delivery.test_crash import REPO
from tests.processes import run_database_url

HANG_DETECTOR = 120.0  # seconds; a bound for a stuck test, not a speed requirement


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if int(fields[1]) == pid:
            found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _wait(condition, what: str) -> None:
    deadline = time.monotonic() + HANG_DETECTOR
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc")
@pytest.mark.django_db(transaction=True)
def test_build_processes_die_when_the_worker_is_killed():
    from django.conf import settings

    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENESP_", "DJANGO_"))}
    env.update(DATABASE_URL=run_database_url(), OPENESP_DATA_DIR=str(settings.DATA_DIR), OPENESP_LOG_LEVEL="WARNING")
    worker = subprocess.Popen([sys.executable, "-m", "openesp", "worker", "--build-processes", "2"], cwd=REPO, env=env)
    try:
        # The pool starts its processes with the worker (plus multiprocessing's resource tracker).
        _wait(lambda: len(_children(worker.pid)) >= 2, "the build processes to start")
        children = _children(worker.pid)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=HANG_DETECTOR)
        _wait(lambda: not any(_alive(pid) for pid in children), "the build processes to end")
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=HANG_DETECTOR)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc")
def test_closing_a_worker_ends_its_build_processes():
    from openesp.delivery.worker import Worker

    before = _children(os.getpid())
    worker = Worker("build-close", build_processes=2)
    started = {pid for pid in _children(os.getpid()) - before if not _is_tracker(pid)}
    assert len(started) == 2  # started with the worker, not on first use
    worker.close()
    _wait(lambda: not any(_alive(pid) for pid in started), "a clean close")


def _is_tracker(pid: int) -> bool:
    # multiprocessing's resource tracker is shared by the whole test process, not the worker's.
    try:
        return b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


@pytest.mark.django_db(transaction=True)
def test_the_worker_command_puts_start_up_out_of_the_collectors_way():
    from django.conf import settings

    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENESP_", "DJANGO_"))}
    env.update(DATABASE_URL=run_database_url(), OPENESP_DATA_DIR=str(settings.DATA_DIR), OPENESP_LOG_LEVEL="INFO")
    command = [sys.executable, "-m", "openesp", "worker", "--build-processes", "0"]
    worker = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert worker.stderr is not None
        lines = []
        for line in worker.stderr:  # the worker logs that it started once it has settled
            lines.append(line)
            if "worker" in line and "started" in line:
                break
        assert any("objects frozen out of the garbage collector's way" in line for line in lines), lines
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=HANG_DETECTOR)
