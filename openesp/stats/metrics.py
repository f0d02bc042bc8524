"""What ``GET /metrics`` reports, in the Prometheus text format (docs/operations.md).

Read from the database at each scrape, not from a process's memory: the web process answering
the scrape is not the worker that sent the mail. Every figure is a small grouped query: the
queue's statuses through its partial indexes, sends and bounces from the daily counters (all
workspaces and platform mail), latency from its histogram table, and whatever the apps
registered in ``lib.gauges`` (the outbound-webhook backlog).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from django.db.models import Count, Sum
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from openesp.lib.gauges import registered_gauges
from openesp.messaging.models import Message, Status
from openesp.stats.models import LATENCY_BOUNDS, DailyCounter, SendLatency

QUEUE_STATUSES = (Status.QUEUED, Status.DEFERRED, Status.SENDING)


class OpenespCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        yield self._queue()
        yield from self._sends()
        yield self._latency()
        for gauge in registered_gauges():
            family = GaugeMetricFamily(gauge.name, gauge.help, labels=list(gauge.labels))
            for labels, value in gauge.read():
                family.add_metric([labels.get(name, "") for name in gauge.labels], value)
            yield family

    def _queue(self) -> Metric:
        family = GaugeMetricFamily("openesp_queue_messages", "Messages on the queue, by status", labels=["status"])
        found = dict(
            Message.objects.filter(status__in=QUEUE_STATUSES).values_list("status").annotate(n=Count("id")).order_by()
        )
        for status in QUEUE_STATUSES:
            family.add_metric([str(status)], found.get(status, 0))
        return family

    def _sends(self) -> Iterator[Metric]:
        sent = CounterMetricFamily("openesp_messages_sent", "Messages handed to a provider", labels=["provider"])
        bounced = CounterMetricFamily(
            "openesp_messages_bounced", "Messages bounced, hard or soft", labels=["provider", "kind"]
        )
        rows = (
            DailyCounter.objects.exclude(provider="")
            .values("provider")
            .annotate(s=Sum("sent"), h=Sum("bounced_hard"), f=Sum("bounced_soft"))
            .order_by("provider")
        )
        for row in rows:
            sent.add_metric([row["provider"]], row["s"] or 0)
            bounced.add_metric([row["provider"], "hard"], row["h"] or 0)
            bounced.add_metric([row["provider"], "soft"], row["f"] or 0)
        yield sent
        yield bounced

    def _latency(self) -> Metric:
        family = HistogramMetricFamily(
            "openesp_send_latency_seconds", "From accepting a message to a provider taking it", labels=["provider"]
        )
        cells: dict[str, dict[int, tuple[int, float]]] = defaultdict(dict)
        for row in SendLatency.objects.values("provider", "bucket", "n", "seconds"):
            cells[row["provider"]][row["bucket"]] = (row["n"], row["seconds"])
        for provider in sorted(cells):
            running, total, buckets = 0, 0.0, []
            for index, bound in enumerate([*LATENCY_BOUNDS, float("inf")]):
                n, seconds = cells[provider].get(index, (0, 0.0))
                running, total = running + n, total + seconds
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), running))
            family.add_metric([provider], buckets, total)
        return family


def exposition() -> bytes:
    """The metrics as the Prometheus text format (version 0.0.4)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OpenespCollector())
    return generate_latest(registry)
