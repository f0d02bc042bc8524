"""The worker's build processes: they render and DKIM-sign while the worker talks SMTP.

They live exactly as long as their worker. A normal close shuts the pool down; if the worker
is killed (even with SIGKILL, which runs no clean-up) each process notices and ends itself
(``openesp.lib.children.die_with_parent``), so no idle build process is ever left behind.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from openesp.lib.children import die_with_parent


def build_processes_default() -> int:
    """One build process per core. Since the build processes render as well as sign (decision
    024), the worker's own process needs about a third of a core (claims, SMTP, records) and
    spends the rest waiting on sockets and the database: with cores - 1 build processes one core
    sat half idle. Measured on 2 cores, quiet: campaign sending 950 -> 1,260-1,300 messages/s,
    plain delivery 1,756 -> 2,101 (docs/benchmarks.md)."""
    return os.cpu_count() or 1


class BuildPool:
    def __init__(self, processes: int) -> None:
        self.processes = processes
        # spawn, not fork: the worker has threads (the loop's executor), and a forked copy of a
        # threaded process can deadlock.
        self.executor = ProcessPoolExecutor(
            processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=die_with_parent,
            initargs=(os.getpid(),),
        )
        # Start every process now, from the thread that creates the worker (the one that lives
        # as long as it): PR_SET_PDEATHSIG fires when the *thread* that started a child ends.
        for future in [self.executor.submit(os.getpid) for _ in range(processes)]:
            future.result()

    def shutdown(self, *, cancel_futures: bool = True) -> None:
        self.executor.shutdown(wait=True, cancel_futures=cancel_futures)
