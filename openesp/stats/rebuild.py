"""Filling the counters again from the message and event log: for an installation upgrading to
statistics (its past mail was never counted), or after counters were lost.

One transaction: readers see the old counters until the new ones are complete. Events are read
in id order a batch at a time and counted by the same code as live events; campaign mail, which
is queued without ``queued`` events, is counted as requested by its messages' creation day.
Run it with the workers stopped: an event written while it runs may be counted twice (docs/statistics.md).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC

from django.db import transaction
from django.db.models import Count
from django.db.models.functions import TruncDate

from openesp.messaging.models import Event, Message
from openesp.stats.counting import Key, add_counts, count_events
from openesp.stats.models import DailyCounter, SendLatency

BATCH = 5000


def rebuild() -> int:
    """Replace every counter by a recount of the log; returns the number of events read."""
    read = 0
    with transaction.atomic():
        DailyCounter.objects.all().delete()
        SendLatency.objects.all().delete()
        last = 0
        while True:
            batch = list(Event.objects.filter(id__gt=last).order_by("id")[:BATCH])
            if not batch:
                break
            count_events(batch)
            read += len(batch)
            last = batch[-1].pk
        queued = (
            Message.objects.filter(campaign_link__isnull=False)
            .annotate(on=TruncDate("created_at", tzinfo=UTC))
            .values("workspace_id", "on", "category", "campaign_link__campaign_id")
            .annotate(n=Count("id"))
            .order_by()
        )
        deltas: dict[Key, dict[str, int]] = defaultdict(dict)
        for row in queued:
            key = (row["workspace_id"] or 0, row["on"], row["category"], "", row["campaign_link__campaign_id"])
            deltas[key]["requested"] = row["n"]
        add_counts(deltas)
    return read
