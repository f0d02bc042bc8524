"""Daily counters: what happened to a workspace's mail, per day, category, provider and campaign.

Kept as events arrive (``stats.counting``, a listener of ``messaging.eventlog``), so reading a
month of statistics sums a few hundred rows instead of counting the message log
(docs/statistics.md).
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models

from openesp.accounts.models import Workspace

# The counters of a row, in the order of the API's rows and the CSV's columns.
COUNTERS = (
    "requested", "sent", "delivered", "deferred", "bounced_hard", "bounced_soft", "dropped",
    "opened", "opened_unique", "opened_human", "clicked", "clicked_unique", "clicked_human",
    "complained", "unsubscribed", "responded",
)  # fmt: skip


class DailyCounter(models.Model):
    """One (workspace, UTC day, category, provider kind, campaign) and its counters.

    ``workspace`` is 0 for platform mail that belongs to no workspace (accounts' own mail):
    counted for the operator's metrics, never shown to a tenant. ``provider`` is empty for mail
    whose provider is not chosen yet (``requested`` is counted when mail is accepted), and
    ``campaign_id`` 0 for mail of no campaign. No foreign key to the campaign: deleting a
    campaign keeps its mail in the workspace's totals.
    """

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    day = models.DateField()
    category = models.CharField(max_length=32)
    provider = models.CharField(max_length=20)
    campaign_id = models.BigIntegerField(default=0)

    requested = models.BigIntegerField(default=0)
    sent = models.BigIntegerField(default=0)
    delivered = models.BigIntegerField(default=0)
    deferred = models.BigIntegerField(default=0)
    bounced_hard = models.BigIntegerField(default=0)
    bounced_soft = models.BigIntegerField(default=0)
    dropped = models.BigIntegerField(default=0)
    opened = models.BigIntegerField(default=0)
    opened_unique = models.BigIntegerField(default=0)
    opened_human = models.BigIntegerField(default=0)
    clicked = models.BigIntegerField(default=0)
    clicked_unique = models.BigIntegerField(default=0)
    clicked_human = models.BigIntegerField(default=0)
    complained = models.BigIntegerField(default=0)
    unsubscribed = models.BigIntegerField(default=0)
    responded = models.BigIntegerField(default=0)

    class Meta:
        constraints: ClassVar = [
            # The upsert's conflict target; its index also serves reads by workspace and day.
            models.UniqueConstraint(
                fields=["workspace", "day", "category", "provider", "campaign_id"], name="stats_counter_key"
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["campaign_id", "day"], name="stats_counter_campaign_idx")]

    def __str__(self) -> str:
        return f"{self.workspace_id} {self.day} {self.category} {self.provider} {self.campaign_id}"


# Upper bounds of the send-latency buckets, in seconds (the last bucket is +Inf).
LATENCY_BOUNDS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0)


class SendLatency(models.Model):
    """How long accepted mail waited until a provider took it, as a histogram per provider.

    Kept in the database, not in a process: the web process answering ``/metrics`` is not the
    worker that sent the mail. ``bucket`` indexes ``LATENCY_BOUNDS`` (its length: +Inf); ``n``
    counts sends in that bucket alone (``/metrics`` adds them up), ``seconds`` their total.
    """

    provider = models.CharField(max_length=20)
    bucket = models.PositiveSmallIntegerField()
    n = models.BigIntegerField(default=0)
    seconds = models.FloatField(default=0.0)

    class Meta:
        constraints: ClassVar = [models.UniqueConstraint(fields=["provider", "bucket"], name="stats_latency_key")]

    def __str__(self) -> str:
        return f"{self.provider} bucket {self.bucket}: {self.n}"
