"""Extra gauges for ``/metrics``: apps register a callable that reads a figure when scraped.

The metrics endpoint lives in a face at the top; the figures live in apps at every layer (the
outbound-webhook outbox's backlog, say). An app registers its reader here when Django starts,
and the endpoint reads every registered one, so neither has to import the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# A reader answers the gauge's samples: (labels, value) pairs; no labels: {}.
Reader = Callable[[], list[tuple[dict[str, str], float]]]


@dataclass(frozen=True)
class Gauge:
    name: str  # a Prometheus metric name, e.g. openesp_webhook_backlog
    help: str
    labels: tuple[str, ...]
    read: Reader


_gauges: dict[str, Gauge] = {}


def register_gauge(name: str, help: str, read: Reader, labels: tuple[str, ...] = ()) -> None:
    """Add (or replace: the same name twice is the same gauge) a gauge read at every scrape."""
    _gauges[name] = Gauge(name, help, labels, read)


def registered_gauges() -> list[Gauge]:
    return list(_gauges.values())
