"""Provider-events benchmark: signed SendGrid batches of 1,000 events posted to a real
``openesp serve`` (web + delivery worker) over HTTP, then waited on until every batch is
processed (messaging events written, statuses moved, suppressions).

    python -m bench.events --events 1000000 [--database-url postgres://…] [--clients 4]

The events go to ``--messages`` sent messages (default one per 100 events) in a realistic
mix: delivered, opens, clicks, deferrals and one hard bounce in a thousand. Prints the accept
rate (all batches answered) and the processing rate; the last line is
``events_per_second=<float> peak_rss_mb=<float>``: events per second from the first post until
the last event was processed, and the peak resident memory of the serving process.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from bench.site import scratch_site

BATCH = 1000
_MIX = ["delivered", "open", "open", "open", "click", "click", "open", "deferred", "open", "click"]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _events(start: int, count: int, ids: list[str]) -> Iterator[dict[str, object]]:
    now = int(time.time())
    for i in range(start, start + count):
        message = ids[i % len(ids)]
        kind = "bounce" if i % 1000 == 999 else _MIX[i % len(_MIX)]
        event: dict[str, object] = {
            "email": f"reader{i % len(ids)}@example.net",
            "timestamp": now,
            "smtp-id": f"<{message}@openesp.bench>",
            "event": kind,
            "category": ["newsletter"],
            "sg_event_id": f"bench-{i:09d}",
            "sg_message_id": f"bench{i % len(ids)}.filter0001.16648.5515E0B88.0",
            "openesp_message_id": message,
        }
        if kind in ("open", "click"):
            event.update(useragent="Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)", ip="192.0.2.7")
        if kind == "click":
            event["url"] = f"https://example.org/articles/{i % 50}"
        if kind == "deferred":
            event.update(response="451 4.3.0 try again later", attempt="1")
        if kind == "delivered":
            event["response"] = "250 2.0.0 OK"
        if kind == "bounce":
            event.update(reason="550 5.1.1 user unknown", status="5.1.1", type="bounce")
        yield event


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=0, help="sent messages the events are about (events/100)")
    parser.add_argument("--clients", type=int, default=4, help="batches posted at once")
    parser.add_argument("--database-url", default=None, help="PostgreSQL server for a scratch database")
    args = parser.parse_args()
    with scratch_site("openesp-bench-events-", args.database_url) as data_dir:
        run(args, data_dir)


def run(args: argparse.Namespace, data_dir: Path) -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    os.environ["OPENESP_SENDGRID_WEBHOOK_PUBLIC_KEY"] = base64.b64encode(public).decode()

    import django

    django.setup()
    import httpx
    from django.core.management import call_command
    from django.utils import timezone

    from openesp.accounts.models import Organization, Workspace
    from openesp.events.models import InboxBatch, InboxEvent
    from openesp.messaging.models import Message

    call_command("migrate", verbosity=0)
    workspace = Workspace.objects.create(organization=Organization.objects.create(name="Bench"), name="News")
    count = args.messages or max(1, args.events // 100)
    now = timezone.now()
    for start in range(0, count, 5000):
        Message.objects.bulk_create(
            Message(workspace=workspace, organization_id=workspace.organization_id, from_email="news@example.org",  # type: ignore[misc]  # text_body: a property (MessageBody), not a field
                    to_email=f"reader{i}@example.net", subject="News", text_body="Hello", status="sent",
                    provider_kind="sendgrid", created_at=now, sent_at=now)
            for i in range(start, min(start + 5000, count))
        )  # fmt: skip
    ids = [str(u) for u in Message.objects.order_by("id").values_list("public_id", flat=True)]
    from django.db import connections

    connections.close_all()

    port = free_port()
    log_path = data_dir / "serve.log"
    log_file = log_path.open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "openesp", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-migrate"],
        stdout=log_file, stderr=subprocess.STDOUT, env=os.environ.copy(),
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{base}/login/", timeout=5)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit("openesp serve did not start")
                time.sleep(0.2)

        batches = list(range(0, args.events, BATCH))
        lock = threading.Lock()
        failures: list[str] = []

        def post_all() -> None:
            with httpx.Client(base_url=base, timeout=600) as client:
                while True:
                    with lock:
                        if not batches:
                            return
                        start = batches.pop(0)
                    body = json.dumps(list(_events(start, min(BATCH, args.events - start), ids))).encode()
                    stamp = str(int(time.time()))
                    signature = base64.b64encode(key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
                    response = client.post("/hooks/sendgrid", content=body, headers={
                        "Content-Type": "application/json",
                        "X-Twilio-Email-Event-Webhook-Signature": signature,
                        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
                    })  # fmt: skip
                    if response.status_code != 200:
                        failures.append(f"{response.status_code} {response.text[:200]}")
                        return

        started = time.perf_counter()
        threads = [threading.Thread(target=post_all) for _ in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        accepted = time.perf_counter() - started
        if failures:
            log_file.flush()
            sys.exit(f"a batch was refused: {failures[0][:60]}\n{log_path.read_text()[-3000:]}")
        from django.db.models import Sum

        stored = InboxBatch.objects.aggregate(n=Sum("events"))["n"] or 0
        if stored != args.events:
            sys.exit(f"only {stored} of {args.events} events were stored")
        while InboxBatch.objects.filter(state="pending").exists():
            if server.poll() is not None:
                sys.exit("openesp serve stopped before all events were processed")
            time.sleep(0.5)
        elapsed = time.perf_counter() - started
        done = InboxEvent.objects.filter(state="done").count()
        if done != args.events:
            states = dict(InboxEvent.objects.values_list("state", "reason").distinct()[:5])
            sys.exit(f"only {done} of {args.events} events were processed: {states}")
        peak = _peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)
        log_file.close()
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{args.events} events about {count} messages, {database}, {args.clients} posting clients")
    print(f"accepted (all batches answered 200) in {accepted:.1f} s: {args.events / accepted:.0f} events/s")
    print(f"processed (every event done) in {elapsed:.1f} s")
    print(f"events_per_second={args.events / elapsed:.1f} peak_rss_mb={peak:.1f}")


if __name__ == "__main__":
    main()
