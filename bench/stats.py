"""Counting events into the daily statistics: what the ``stats`` listener costs the event writers.

    python -m bench.stats --events 200000
    python -m bench.stats --events 200000 --database-url postgres://postgres@127.0.0.1:5432/test

A fresh database (SQLite in a temporary data directory, or a scratch PostgreSQL database made
next to the one named and dropped afterwards) with one workspace and ``--messages`` sent
messages spread over two providers and three categories, some of them linked to a campaign.
Timed: ``--events`` events (sent, delivered, opened — first, repeated, by a machine — clicked,
bounced) written through ``messaging.eventlog.add_events`` in batches of ``--batch`` events, one
transaction a batch, as a provider-webhook worker writes them; then, for comparison, the same
events written with the listeners switched off. The counters are then checked against the
events. The last line is ``events_per_second=<f> without_counting_per_second=<f>``.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from typing import Any

from bench.site import scratch_site


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--database-url", help="a PostgreSQL server to make a scratch database on")
    args = parser.parse_args()
    with scratch_site("openesp-bench-stats-", args.database_url):
        run(args)


def _events(message_ids: list[int], count: int, rng: random.Random) -> list[dict[str, Any]]:
    kinds: list[tuple[str, dict[str, Any]]] = [
        ("sent", {}), ("delivered", {}), ("opened", {"first": True}), ("opened", {}),
        ("opened", {"machine": True}), ("clicked", {"first": True}), ("bounced", {"bounce": "soft"}),
    ]  # fmt: skip
    made = []
    for _ in range(count):
        kind, data = rng.choice(kinds)
        made.append({"message_id": rng.choice(message_ids), "type": kind, "data": data})
    return made


def run(args: argparse.Namespace) -> None:
    subprocess.run([sys.executable, "-m", "openesp", "migrate", "--verbosity", "0"], check=True)
    import django

    django.setup()
    from django.db import connection, transaction
    from django.db.models import Sum
    from django.utils import timezone

    from openesp.accounts.models import Organization, User, Workspace
    from openesp.campaigns.models import Campaign, CampaignMessage, Purpose, Recipient, Template, TemplateVersion
    from openesp.messaging import eventlog
    from openesp.messaging.models import Event, Message
    from openesp.stats.models import DailyCounter

    rng = random.Random(13)
    user = User.objects.create_user("bench@example.org", "bench-password-123", name="Bench", email_verified=True)
    workspace = Workspace.objects.create(organization=Organization.objects.create(name="Bench"), name="Bench")
    now = timezone.now()
    Message.objects.bulk_create(
        [
            Message(
                workspace=workspace, organization=workspace.organization, user=user, to_email=f"r{n}@example.net",
                from_email=user.email, subject="s", status="sent", provider_kind=("sendgrid", "mailjet")[n % 2],
                category=("transactional", "invitation", "reminder")[n % 3], created_at=now, sent_at=now,
            )
            for n in range(args.messages)
        ],
        batch_size=2000,
    )  # fmt: skip
    ids = list(Message.objects.values_list("id", flat=True))
    template = Template.objects.create(workspace=workspace, name="t")
    version = TemplateVersion.objects.create(template=template, number=1, subject="s")
    campaign = Campaign.objects.create(
        workspace=workspace, name="c", template_version=version, from_email=user.email, created_by=user
    )
    linked = ids[: len(ids) // 2]
    recipients = Recipient.objects.bulk_create(
        [Recipient(campaign=campaign, email=f"r{n}@example.net") for n in range(len(linked))], batch_size=2000
    )
    CampaignMessage.objects.bulk_create(
        [
            CampaignMessage(message_id=m, campaign=campaign, recipient=r, version=version, purpose=Purpose.INVITATION)
            for m, r in zip(linked, recipients, strict=True)
        ],
        batch_size=2000,
    )
    shape = f"{args.messages:,} messages; {args.events:,} events in batches of {args.batch}"
    print(f"database: {connection.vendor}; {shape}")

    def write(events: list[dict[str, Any]]) -> float:
        started = time.perf_counter()
        for start in range(0, len(events), args.batch):
            with transaction.atomic():
                eventlog.add_events(Event(created_at=timezone.now(), **e) for e in events[start : start + args.batch])
        return time.perf_counter() - started

    counted = _events(ids, args.events, rng)
    with_counting = write(counted)
    total = DailyCounter.objects.aggregate(
        n=Sum("sent") + Sum("delivered") + Sum("opened") + Sum("clicked") + Sum("bounced_soft")
    )["n"]
    assert total == args.events, (total, args.events)
    print(f"with the counters: {with_counting:.1f} s, {args.events / with_counting:,.0f} events/s")

    listeners = list(eventlog._listeners)
    eventlog._listeners.clear()
    try:
        without = write(_events(ids, args.events, rng))
    finally:
        eventlog._listeners.extend(listeners)
    print(f"without counting:  {without:.1f} s, {args.events / without:,.0f} events/s")
    counting, plain = args.events / with_counting, args.events / without
    print(f"events_per_second={counting:.1f} without_counting_per_second={plain:.1f}")


if __name__ == "__main__":
    main()
