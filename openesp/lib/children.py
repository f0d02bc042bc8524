"""Child processes that end with their parent, however the parent ends.

Used as the initializer of a ``ProcessPoolExecutor`` (``initializer=die_with_parent,
initargs=(os.getpid(),)``): the worker's build processes use it, and any other pool of helper
processes should. Free of Django, so that a spawned child imports it cheaply.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence

WATCHDOG_SECONDS = 1.0


def die_with_parent(parent_pid: int) -> None:
    """Make this process end when ``parent_pid`` ends, also when it is killed with SIGKILL.

    Two guards, because either alone has a gap: Linux's PR_SET_PDEATHSIG delivers SIGTERM the
    moment the parent dies (but fires when the parent's *thread* that started us ends, and does
    not exist elsewhere); a watchdog thread notices that the parent is gone (we were
    re-parented) within a second, everywhere.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the watchdog below still ends us
        pass
    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(0)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="openesp-parent-watchdog", daemon=True).start()


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(WATCHDOG_SECONDS)
    os._exit(0)  # a helper process holds nothing but its inputs: no clean-up to do


def run_forwarding_signals(children: Sequence[multiprocessing.process.BaseProcess]) -> list[int | None]:
    """Start ``children``, pass SIGTERM and SIGINT on to them, wait for all; their exit codes.

    What a command running N copies of itself does (``openesp worker --processes``,
    ``openesp smtp --processes``): each child finishes its own work when told to stop.
    """
    for child in children:
        child.start()

    def forward(_signum: int, _frame: object) -> None:
        for child in children:
            if child.pid is not None and child.is_alive():
                child.terminate()

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        child.join()
    return [child.exitcode for child in children]
