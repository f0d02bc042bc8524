"""Campaign expansion benchmark: a campaign to N contacts started in a fresh database.

    python -m bench.campaign --contacts 1000000
    python -m bench.campaign --contacts 1000000 --database-url postgres://postgres@127.0.0.1:5432/test
    python -m bench.campaign --contacts 20000 --send

Without ``--database-url`` the database is SQLite in a temporary data directory; with one, a
scratch database is created next to the one named (on the same server) and dropped afterwards.
The contacts (1 % suppressed, 1 % unsubscribed from the list, 1 % pending) are made in SQL, not
timed. Timed is what the scheduler does when the campaign is due (``scheduling.start_campaign``),
in one transaction: the claim, the whole audience frozen (exclusions counted by reason, one
recipient row per eligible contact) and the first chunk of invitations queued (a link row and a
bodiless message for each of the first ``OPENESP_CAMPAIGN_CHUNK`` recipients, 10,000 by default;
the scheduler queues the next chunks as delivery drains them, ``campaigns.invitations``). The
last line is ``expand_seconds=<float> recipients=<int>``. With ``--all-chunks`` the other chunks
are then queued one after the other, as if delivery drained each at once, and timed apart.

With ``--send`` the real worker then sends the campaign into Postfix's smtp-sink, rendered per
recipient and RSA-2048-signed, and smtp-source runs into the same sink (``bench/campaign_send.py``);
the last line is then ``messages_per_second=<f> ratio_to_smtp_source=<f> peak_rss_mb=<f>
rss_growth_mb=<f>``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import campaign_send
from bench.import_csv import peak_rss_mb
from bench.site import scratch_site
from openesp.delivery.buildpool import build_processes_default


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--database-url", help="a PostgreSQL server to make a scratch database on")
    parser.add_argument("--all-chunks", action="store_true", help="then queue the other chunks, timed apart")
    parser.add_argument("--send", action="store_true", help="then send it into smtp-sink (needs Postfix's tools)")
    parser.add_argument("--batch-size", type=int, default=500, help="with --send: as the worker")
    parser.add_argument("--connections", type=int, default=8, help="with --send: as the worker")
    parser.add_argument(
        "--build-processes", type=int, default=build_processes_default(), help="with --send: as the worker"
    )
    args = parser.parse_args()

    with (
        scratch_site("openesp-bench-campaign-", args.database_url),
        campaign_send.sink() if args.send else contextlib.nullcontext(0) as port,
    ):
        run(args.contacts, args, port)


def _numbers(vendor: str, n: int) -> str:
    """A FROM clause giving the rows i = 1..n."""
    if vendor == "postgresql":
        return f"generate_series(1, {int(n)}) AS g(i)"
    return f"(WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {int(n)}) SELECT i FROM g) g"


def make_audience(workspace_id: int, list_id: int, contacts: int) -> None:
    """``contacts`` contacts on the list, made in SQL: every 100th suppressed (a hard bounce),
    every 100th (offset 1) unsubscribed from the list, every 100th (offset 2) pending."""
    from django.db import connection, transaction
    from django.utils import timezone

    from openesp.audience.models import Contact, Subscription, Suppression

    now = connection.ops.adapt_datetimefield_value(timezone.now())
    vendor = connection.vendor
    numbers = _numbers(vendor, contacts)
    concat = "'c' || i || '@example' || (i %% 97) || '.se'"
    json_empty = "'{}'::jsonb" if vendor == "postgresql" else "'{}'"
    c, s, sup = Contact._meta.db_table, Subscription._meta.db_table, Suppression._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {c} (workspace_id, email, email_key, name, language, time_zone, attributes, status, "
            f"created_at, updated_at) SELECT %s, {concat}, {concat}, 'Contact ' || i, 'sv', '', {json_empty}, "
            f"'active', %s, %s FROM {numbers} ORDER BY i",
            [workspace_id, now, now],
        )
        cursor.execute(
            f"INSERT INTO {s} (contact_id, contact_list_id, status, created_at, updated_at) "
            "SELECT id, %s, CASE WHEN id %% 100 = 1 THEN 'unsubscribed' WHEN id %% 100 = 2 THEN 'pending' "
            f"ELSE 'subscribed' END, %s, %s FROM {c} WHERE workspace_id = %s ORDER BY id",
            [list_id, now, now, workspace_id],
        )
        cursor.execute(
            f"INSERT INTO {sup} (workspace_id, email, reason, detail, source, created_at) "
            f"SELECT %s, email_key, 'hard_bounce', '', 'bench', %s FROM {c} WHERE workspace_id = %s AND id %% 100 = 0",
            [workspace_id, now, workspace_id],
        )
    if vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {c}; ANALYZE {s}; ANALYZE {sup}")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


SMALL_HTML = "<p>Dear {{ contact.name }}, <a href='{{ response_url }}'>answer here</a>.</p>"


def run(contacts: int, args: argparse.Namespace, port: int) -> None:
    subprocess.run([sys.executable, "-m", "openesp", "migrate", "--verbosity", "0"], check=True)
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from openesp.accounts.models import Membership, Organization, Role, User, Workspace
    from openesp.audience.models import ContactList
    from openesp.campaigns.campaigns import create_campaign, schedule_campaign
    from openesp.campaigns.invitations import chunk_size
    from openesp.campaigns.models import Campaign
    from openesp.campaigns.scheduling import start_campaign
    from openesp.campaigns.templates import create_template
    from openesp.messaging.models import Message

    user = User.objects.create_user("bench@example.org", "bench-password-123", name="Bench", email_verified=True)
    org = Organization.objects.create(name="Bench")
    Membership.objects.create(organization=org, user=user, role=Role.OWNER)
    workspace = Workspace.objects.create(organization=org, name="Bench")
    everyone = ContactList.objects.create(workspace=workspace, name="Everyone")
    started = time.perf_counter()
    make_audience(workspace.pk, everyone.pk, contacts)
    print(f"made {contacts:,} contacts in {time.perf_counter() - started:.1f} s; database: {connection.vendor}")

    version = create_template(
        workspace,
        name="Invitation",
        subject=campaign_send.SUBJECT if args.send else "Welcome, {{ contact.name }}",
        html=campaign_send.HTML if args.send else SMALL_HTML,
        actor=user,
    )
    campaign = create_campaign(
        workspace, user, name="Bench", template_version=version, from_email=user.email, lists=[everyone]
    )
    now = timezone.now()
    schedule_campaign(campaign, now=now)
    backend_cpu = _backend_cpu(connection)
    cpu0, t0 = time.process_time(), time.perf_counter()
    assert start_campaign(campaign.pk, now)
    expand_seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    backend = ""
    if connection.vendor == "postgresql":
        backend = f", PostgreSQL backend {_backend_cpu(connection) - backend_cpu:.2f} s"
    print(f"expansion CPU: this process {cpu:.2f} s{backend}")
    campaign = Campaign.objects.get(pk=campaign.pk)
    queued = Message.objects.filter(workspace=workspace).count()
    print(
        f"audience {campaign.audience:,}; excluded: suppressed {campaign.excluded_suppressed:,}, "
        f"unsubscribed {campaign.excluded_unsubscribed:,}, not subscribed {campaign.excluded_not_subscribed:,}; "
        f"{queued:,} invitations queued (the first chunk), {campaign.uninvited:,} to follow; "
        f"peak rss {peak_rss_mb():.0f} MB"
    )
    assert queued == min(chunk_size(), campaign.audience) == campaign.audience - campaign.uninvited
    if args.all_chunks:
        _queue_the_rest(campaign.pk, now)
    print(f"expand_seconds={expand_seconds:.2f} recipients={campaign.audience}")
    if args.send:
        campaign_send.sign_with_rsa(user.email)
        campaign_send.send(
            port,
            campaign.audience,
            batch_size=args.batch_size,
            connections=args.connections,
            build_processes=args.build_processes,
        )


def _backend_cpu(connection: Any) -> float:
    """CPU seconds of this connection's PostgreSQL backend (on this machine); 0 on SQLite."""
    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # another machine: not measured
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _queue_the_rest(campaign_id: int, now: datetime) -> None:
    """Queue the campaign's other chunks one after the other, as if delivery drained each at once."""
    from django.db import transaction

    from openesp.campaigns.invitations import chunk_size, queue_invitations
    from openesp.campaigns.models import Campaign
    from openesp.campaigns.queueing import large_cache

    chunks = queued = 0
    started, cpu = time.perf_counter(), time.process_time()
    while True:
        with large_cache(), transaction.atomic():
            campaign = Campaign.objects.select_related("workspace__organization", "template_version").get(
                pk=campaign_id
            )
            if not campaign.uninvited:
                break
            queued += queue_invitations(campaign, now, chunk_size())
            chunks += 1
    seconds = time.perf_counter() - started
    print(
        f"queued the other {queued:,} invitations in {chunks} chunks: {seconds:.2f} s "
        f"({seconds / max(chunks, 1) * 1000:.0f} ms a chunk; this process's CPU {time.process_time() - cpu:.2f} s)"
    )


if __name__ == "__main__":
    main()
