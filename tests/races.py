"""The same job run by several threads at the same moment, for the tests that two workers
racing on PostgreSQL never do one piece of work twice."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connections

from tests.processes import HANG


def at_once[T](job: Callable[[], T], workers: int = 2) -> list[T]:
    """What ``job`` returned in each of ``workers`` threads released together by a barrier;
    any thread's exception fails the test. Each thread closes its own database connections."""
    barrier = threading.Barrier(workers)
    results: list[T] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            results.append(job())
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=HANG)
    assert not errors, errors
    assert len(results) == workers
    return results
