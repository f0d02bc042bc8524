"""The garbage collector in openesp's long-running processes.

CPython's cycle collector visits every tracked object of a generation each time it collects
it, and its oldest generation holds what a started process keeps for its whole life: Django,
the URL configuration and the API's schemas, settings, compiled templates and regular
expressions — 100,000 to 160,000 objects in a web process or a worker. A batch of mail or a
request with many recipients allocates enough to set off a full collection every few seconds,
and each walks all of them again to free nothing: before this, 13 % of a web process's CPU
under ``bench.api_accept`` and about a tenth of the delivery worker's (docs/benchmarks.md,
round 7).

``settle()`` moves what is alive at the end of start-up into the permanent generation
(``gc.freeze``), which no collection visits, and lets the youngest generation grow larger
before it is collected, so that the short-lived objects of a request or a batch are mostly
freed by reference counting before a collection sees them. Cycles made later are collected
as before. Call it once a process has finished starting, before it serves — in a process that
forks its servers, before the fork: the children inherit both settings, and leaving the frozen
objects alone also leaves the memory pages they share with their parent unwritten.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)

# The youngest generation collected after 10,000 net allocations instead of CPython's 700; the
# two older ones after 20 collections of the one below instead of 10. Measured against the
# defaults and against 50,000 (docs/benchmarks.md, round 7).
THRESHOLDS = (10_000, 20, 20)


def settle() -> None:
    """Freeze what start-up left alive out of the collector's way; collect the young less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    log.info("start-up done: %d objects frozen out of the garbage collector's way", gc.get_freeze_count())
