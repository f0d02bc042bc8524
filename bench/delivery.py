"""Delivery benchmark: N personalised, DKIM-signed messages through the real worker into
Postfix's smtp-sink on loopback; smtp-source against the same sink for scale.

    python -m bench.delivery --messages 20000
    python -m bench.delivery --messages 20000 --database-url postgres://postgres@127.0.0.1:5432/test --workers 2

Without ``--database-url`` the database is SQLite in a temporary data directory; with one, a
scratch database is made beside the one named and dropped afterwards. Without ``--workers`` the
worker runs in this process (``Worker.run``, the loop of ``openesp worker``); with ``--workers N``
N separate ``openesp worker`` processes are started and coordinate through the database (claims
with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), as a deployment that outgrew one worker runs them;
their time counts from their start to the last message recorded as sent.

Needs Postfix's smtp-sink and smtp-source (Debian package ``postfix``). The last line is
``messages_per_second=<float> ratio_to_smtp_source=<float> peak_rss_mb=<float>``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.site import scratch_site
from openesp.delivery.buildpool import build_processes_default

PARAGRAPH = (
    "Thank you for being with us this year. Here is what happened in the product, what is next, "
    "and a few stories from customers who built something remarkable with it. "
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find(tool: str) -> str:
    path = shutil.which(tool) or (f"/usr/sbin/{tool}" if Path(f"/usr/sbin/{tool}").exists() else None)
    if path is None:
        sys.exit(f"{tool} not found: install Debian's postfix package (apt-get install postfix)")
    return path


def start_sink(port: int) -> subprocess.Popen[bytes]:
    args = [find("smtp-sink")]
    if os.geteuid() == 0:
        args += ["-u", "nobody"]
    sink = subprocess.Popen([*args, "-c", f"127.0.0.1:{port}", "1024"], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return sink
        except OSError:
            time.sleep(0.05)
    sink.kill()
    sys.exit("smtp-sink did not start")


def smtp_source_rate(port: int, messages: int, size: int) -> float:
    """Messages per second smtp-source pushes into the same sink (20 parallel sessions)."""
    started = time.perf_counter()
    subprocess.run(
        [find("smtp-source"), "-s", "20", "-l", str(size), "-m", str(messages), "-f", "bench@example.org",
         "-t", "sink@example.net", f"127.0.0.1:{port}"],
        check=True,
    )  # fmt: skip
    return messages / (time.perf_counter() - started)


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the build processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--dkim", choices=["rsa", "ed25519"], default="rsa", help="key type (default RSA-2048)")
    parser.add_argument("--build-processes", type=int, default=build_processes_default(), help="as `openesp worker`")
    parser.add_argument("--database-url", help="a PostgreSQL server to make a scratch database on")
    parser.add_argument("--workers", type=int, default=0, help="separate `openesp worker` processes (0: in this one)")
    parser.add_argument(
        "--category", default="transactional", help="of every message; response_receipt or reminder: sent at most once"
    )
    args = parser.parse_args()
    if args.workers > 1 and not args.database_url:
        sys.exit("--workers: SQLite has a single writer; give --database-url for several workers")

    port = free_port()
    sink = start_sink(port)
    os.environ["OPENESP_DEFAULT_PROVIDER"] = f"smtp://127.0.0.1:{port}?security=none"
    try:
        with scratch_site("openesp-bench-", args.database_url):
            run(args, port)
    finally:
        sink.terminate()


def run(args: argparse.Namespace, port: int) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from openesp.delivery.domains import add_dkim_key
    from openesp.delivery.worker import Worker
    from openesp.lib.heap import settle
    from openesp.messaging.models import Message
    from openesp.messaging.senders import add_sending_domain

    call_command("migrate", verbosity=0)
    add_dkim_key(add_sending_domain("news.example.org"), algorithm=args.dkim, selector="bench")
    html = "<html><body>" + "".join(f"<p>{PARAGRAPH * 3}</p>" for _ in range(14)) + "</body></html>"
    text = "\n\n".join(PARAGRAPH * 3 for _ in range(8))
    now = timezone.now()
    started = time.perf_counter()
    for start in range(0, args.messages, 1000):  # in chunks: the peak RSS is the worker's, not ours
        Message.objects.bulk_create(
            [
                Message(  # type: ignore[misc]  # text_body: a property (MessageBody), not a field
                    category=args.category,
                    from_email="news@news.example.org",
                    from_name="Example News",
                    to_email=f"reader{i}@example.net",
                    to_name=f"Reader {i}",
                    subject=f"Your November update, Reader {i}",
                    text_body=f"Hello Reader {i},\n\n{text}",
                    html_body=f"<p>Hello Reader {i},</p>{html}",
                    created_at=now,
                    not_before=now,
                )
                for i in range(start, min(start + 1000, args.messages))
            ]
        )
    enqueue_seconds = time.perf_counter() - started
    sample = Message.objects.first()
    assert sample is not None
    size = len(sample.text_body) + len(sample.html_body)

    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    if args.workers:
        _run_workers(args)
    else:
        settle()  # as `openesp worker` does before its loop
        worker = Worker(
            "bench", batch_size=args.batch_size, pool_size=args.connections, build_processes=args.build_processes
        )
        worker.run(threading.Event(), until_empty=True)  # the same loop as `openesp worker`
    elapsed = time.perf_counter() - started  # the worker and its build processes are gone
    cpu = _cpu_seconds() - cpu_before
    sent = Message.objects.filter(status="sent").count()
    if sent != args.messages:
        sys.exit(f"only {sent} of {args.messages} messages were sent")
    rate = sent / elapsed
    source_rate = smtp_source_rate(port, min(args.messages, 20000), size)
    # The worker and its build processes (children), as the kernel counts them.
    peak_rss_mb = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    ) / 1024
    where = f"{args.workers} `openesp worker` processes" if args.workers else "the worker in this process"
    print(f"database: {connection.vendor}; delivery by {where}")
    print(f"enqueued {args.messages} messages ({size / 1024:.1f} KB of body each) in {enqueue_seconds:.2f} s")
    print(f"delivered {sent} signed messages in {elapsed:.2f} s, {cpu:.2f} CPU seconds")
    print(f"smtp-source into the same sink: {source_rate:.0f} messages/s")
    print(f"messages_per_second={rate:.1f} ratio_to_smtp_source={rate / source_rate:.3f} peak_rss_mb={peak_rss_mb:.1f}")


def _run_workers(args: argparse.Namespace) -> None:
    """Start ``--workers`` separate ``openesp worker`` processes; stop them once nothing is left
    to send (SIGTERM: each finishes and records its batch first) and wait for them."""
    from django.db import connection

    from openesp.messaging.models import Message

    connection.close()  # the workers write; this process only looks
    command = [sys.executable, "-m", "openesp", "worker", "--batch-size", str(args.batch_size),
               "--connections", str(args.connections), "--build-processes", str(args.build_processes)]  # fmt: skip
    workers = [subprocess.Popen(command) for _ in range(args.workers)]
    try:
        while Message.objects.exclude(status="sent").exists():
            if any(w.poll() is not None for w in workers):
                sys.exit("a worker exited before the queue was empty")
            time.sleep(0.1)
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=120)


if __name__ == "__main__":
    main()
