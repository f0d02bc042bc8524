"""Outbound webhook benchmark: events written through the event log, their outbox rows, and
the delivery rounds that POST them to a receiver on loopback.

    python -m bench.webhooks --events 20000
    python -m bench.webhooks --events 20000 --database-url postgres://postgres@127.0.0.1:5432/test

A workspace with one endpoint that wants ``message.sent`` gets ``--events`` sent events, one
per message, written in batches of 500 as the delivery worker's ``record`` writes them. Timed
apart: writing the events with their outbox rows (the listener's cost, in the writer's
transaction), and ``deliver_due`` rounds until the outbox is empty (each request signed and sent
to a ``ThreadingHTTPServer`` on loopback, in a process of its own, that answers 204 without
checking). The last line is
``enqueue_per_second=<f> delivered_per_second=<f> peak_rss_mb=<f>``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench.import_csv import peak_rss_mb
from bench.site import scratch_site

BATCH = 500


# The receiver runs in a process of its own, as a customer's endpoint would: in this process its
# threads would contend with the delivering threads for the GIL and measure that instead.
SINK = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Sink(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

ThreadingHTTPServer.request_queue_size = 128  # the default 5 drops connections, costing 1 s each
server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def run(events: int) -> None:
    subprocess.run([sys.executable, "-m", "openesp", "migrate", "--verbosity", "0"], check=True)
    import os

    os.environ["OPENESP_ALLOW_PRIVATE_WEBHOOK_HOSTS"] = "true"
    import django

    django.setup()
    from django.db import transaction

    from openesp.accounts.models import Organization, Workspace
    from openesp.hooksout.deliver import deliver_due
    from openesp.hooksout.endpoints import create_endpoint
    from openesp.hooksout.models import DeliveryStatus, WebhookDelivery
    from openesp.messaging.eventlog import add_events
    from openesp.messaging.models import Event, EventType, Message, Status

    sink = subprocess.Popen([sys.executable, "-c", SINK], stdout=subprocess.PIPE, text=True)
    assert sink.stdout is not None
    port = int(sink.stdout.readline())
    org = Organization.objects.create(name="Bench")
    workspace = Workspace.objects.create(organization=org, name="Bench")
    create_endpoint(workspace, f"http://127.0.0.1:{port}/hook", ["message.sent"])
    messages = Message.objects.bulk_create(
        [
            Message(workspace=workspace, organization=org, from_email="a@bench.example", to_email=f"r{i}@example.net",
                    subject="s", status=Status.SENT)
            for i in range(events)
        ],
        batch_size=1000,
    )  # fmt: skip

    t0 = time.perf_counter()
    for start in range(0, events, BATCH):
        with transaction.atomic():
            add_events(Event(message=m, type=EventType.SENT, smtp_code=250) for m in messages[start : start + BATCH])
    enqueue_seconds = time.perf_counter() - t0
    queued = WebhookDelivery.objects.count()
    assert queued == events, queued

    t0 = time.perf_counter()
    while deliver_due():
        pass
    deliver_seconds = time.perf_counter() - t0
    delivered = WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED).count()
    sink.terminate()
    sink.wait()
    assert delivered == events, delivered
    print(f"{events:,} events: written with their outbox rows in {enqueue_seconds:.2f} s, "
          f"delivered in {deliver_seconds:.2f} s")  # fmt: skip
    print(
        f"enqueue_per_second={events / enqueue_seconds:.1f} delivered_per_second={events / deliver_seconds:.1f} "
        f"peak_rss_mb={peak_rss_mb():.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--database-url", help="a PostgreSQL server to make a scratch database on")
    args = parser.parse_args()
    with scratch_site("openesp-bench-webhooks-", args.database_url):
        run(args.events)


if __name__ == "__main__":
    main()
