"""Accepting mail through the API: batches of individual messages (``POST /api/v1/messages/batch``).

    python -m bench.message_batch --batches 20
    python -m bench.message_batch --batches 20 --database-url postgres://postgres@127.0.0.1:5432/test

Without ``--database-url`` the database is SQLite in a temporary data directory; with one, a
scratch database is created next to the one named (on the same server) and dropped afterwards.
Each request is a batch of ``--size`` individual messages (500 by default): each its own
recipient, subject and about 2 KB of text and HTML, from the caller's own verified address, with
an ``Idempotency-Key``. The requests go through Django's test client in this process: the whole
API stack (key authentication, body parsing, the schema, parsing and sender checks per message,
the one transaction and its commit) but no network and no WSGI server. For comparison the same
number of messages is then sent one per ``POST /api/v1/messages``. The last line is
``batches_per_second=<f> messages_per_second=<f> single_messages_per_second=<f>``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

from bench.site import scratch_site

TEXT = "Thank you for your order. " * 40  # about 1 KB
HTML = "<p>" + "Thank you for your order. " * 40 + "</p>"


def _message(sender: str, n: int) -> dict[str, Any]:
    return {
        "from": sender,
        "to": [{"email": f"customer{n}@example.net", "name": f"Customer {n}"}],
        "subject": f"Your order {n}",
        "text": f"Dear customer {n},\n\n{TEXT}",
        "html": f"<p>Dear customer {n},</p>{HTML}",
        "tags": ["orders"],
        "metadata": {"order": str(n)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--size", type=int, default=500, help="messages per batch (at most 500)")
    parser.add_argument("--database-url", help="a PostgreSQL server to make a scratch database on")
    args = parser.parse_args()

    with scratch_site("openesp-bench-batch-", args.database_url):
        run(args)


def run(args: argparse.Namespace) -> None:
    subprocess.run([sys.executable, "-m", "openesp", "migrate", "--verbosity", "0"], check=True)
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from openesp.accounts.apikeys import create_api_key
    from openesp.accounts.models import User
    from openesp.messaging.models import Message

    user = User.objects.create_user("bench@example.org", "bench-password-123", name="Bench", email_verified=True)
    _key, raw = create_api_key(user, scopes=["messages.send"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_HOST="localhost")
    bodies = [
        json.dumps({"messages": [_message(user.email, b * args.size + i) for i in range(args.size)]})
        for b in range(args.batches)
    ]
    size = f"{len(bodies[0]):,} bytes each"
    print(f"database: {connection.vendor}; {args.batches} batches of {args.size} messages, {size}")

    started = time.perf_counter()
    for b, body in enumerate(bodies):
        response = client.post(
            "/api/v1/messages/batch", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=f"batch-{b}"
        )
        assert response.status_code == 202, response.content[:500]
        assert all("ids" in entry for entry in response.json()["messages"])
    batch_seconds = time.perf_counter() - started
    total = args.batches * args.size
    assert Message.objects.count() == total

    singles = [json.dumps(_message(user.email, total + n)) for n in range(total)]
    started = time.perf_counter()
    for n, body in enumerate(singles):
        response = client.post("/api/v1/messages", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=f"s-{n}")
        assert response.status_code == 202, response.content[:500]
    single_seconds = time.perf_counter() - started
    assert Message.objects.count() == 2 * total

    print(
        f"batches_per_second={args.batches / batch_seconds:.2f} messages_per_second={total / batch_seconds:.1f} "
        f"single_messages_per_second={total / single_seconds:.1f}"
    )


if __name__ == "__main__":
    main()
