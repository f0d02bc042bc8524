"""The ``--send`` part of ``python -m bench.campaign``: the expanded campaign sent by the real worker.

Per-recipient rendering (a ~10 KB HTML template with a ``<style>`` block inlined and the text part
derived from the HTML, as for a template without a text part), RSA-2048 DKIM, into Postfix's
smtp-sink on loopback; then smtp-source into the same sink for the ratio. The worker is
``openesp.delivery.worker.Worker`` (what ``openesp worker`` runs) with its build processes.

RSS is sampled after every recorded batch: the worker's process plus its build processes
(``/proc/<pid>/status``). ``rss_growth_mb`` is the highest sample from 10 % of the send to the
end minus the sample at 10 % (the first batches load code and warm caches; a leak grows after).
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.delivery import PARAGRAPH, free_port, smtp_source_rate, start_sink

STYLE = (
    "<style>body { font-family: Helvetica, Arial, sans-serif; color: #222 } p { line-height: 1.5; margin: 0 0 12px }"
    " a.button { background: #0a7; color: #fff; padding: 10px 16px; border-radius: 4px; text-decoration: none }"
    " .footer { color: #888; font-size: 12px }</style>"
)
SUBJECT = "Your invitation, {{ contact.name }}"
HTML = (
    STYLE
    + "<p>Dear {{ contact.name }},</p>"
    + "".join(f"<p>{PARAGRAPH * 3}</p>" for _ in range(14))
    + "<p><a class='button' href='{{ response_url }}'>Answer the invitation</a></p>"
    + "<p class='footer'>Sent to {{ contact.email }} by {{ workspace.name }}. "
    + "<a href='{{ unsubscribe_url }}'>Unsubscribe</a> · <a href='{{ preferences_url }}'>Preferences</a></p>"
)


@contextlib.contextmanager
def sink() -> Iterator[int]:
    """smtp-sink on a free loopback port, the operator's relay for this process (set before
    Django reads its settings)."""
    port = free_port()
    process = start_sink(port)
    os.environ["OPENESP_DEFAULT_PROVIDER"] = f"smtp://127.0.0.1:{port}?security=none"
    try:
        yield port
    finally:
        process.terminate()
        process.wait()


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:  # the process is gone
        pass
    return 0.0


def _cpu() -> tuple[float, float]:
    """CPU seconds of this process and of its finished children (the build processes, once the
    worker has stopped them)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def sign_with_rsa(from_email: str) -> None:
    from openesp.delivery.domains import add_dkim_key
    from openesp.messaging.senders import add_sending_domain

    add_dkim_key(add_sending_domain(from_email.rpartition("@")[2]), algorithm="rsa", selector="bench")


def send(port: int, expected: int, *, batch_size: int, connections: int, build_processes: int) -> None:
    """Send every queued invitation with the real worker and print the figures (last line)."""
    from openesp.delivery.worker import Worker
    from openesp.lib.heap import settle
    from openesp.messaging.models import Message, Status

    samples: list[tuple[int, float]] = []  # (messages recorded, RSS MB of worker + build processes)
    lock = threading.Lock()

    class SampledWorker(Worker):
        recorded = 0

        def _record(self, outcomes: list[Any]) -> None:
            super()._record(outcomes)
            pids = [os.getpid()]
            if self.build_pool is not None:
                pids += list(self.build_pool.executor._processes)  # the pool's own pids
            with lock:
                self.recorded += len(outcomes)
                samples.append((self.recorded, sum(_rss_mb(pid) for pid in pids)))

    settle()  # as `openesp worker` does before its loop
    worker = SampledWorker("bench", batch_size=batch_size, pool_size=connections, build_processes=build_processes)
    cpu_before = _cpu()
    started = time.perf_counter()
    worker.run(threading.Event(), until_empty=True)  # the same loop as `openesp worker`
    elapsed = time.perf_counter() - started
    own, children = (after - before for after, before in zip(_cpu(), cpu_before, strict=True))
    sent = Message.objects.filter(status=Status.SENT, category="invitation").count()
    if sent != expected:
        raise SystemExit(f"only {sent} of {expected} invitations were sent")
    sample = Message.objects.filter(status=Status.SENT).first()
    assert sample is not None
    size = len(sample.subject) + 2 * len(HTML)  # about the rendered HTML and its text part
    source_rate = smtp_source_rate(port, min(expected, 20000), size)
    rate = sent / elapsed
    at_10 = next(rss for count, rss in samples if count >= expected / 10)
    growth = max(rss for count, rss in samples if count >= expected / 10) - at_10
    peak = max(max(rss for _count, rss in samples), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(f"sent {sent:,} invitations, rendered per recipient and RSA-2048-signed, in {elapsed:.2f} s")
    print(f"CPU: {own * 1000 / sent:.2f} ms a message in the worker, {children * 1000 / sent:.2f} in build processes")
    print(f"smtp-source into the same sink: {source_rate:.0f} messages/s ({size / 1024:.1f} KB each)")
    print(f"RSS of worker and build processes: {at_10:.1f} MB at 10 % of the send, {samples[-1][1]:.1f} MB at the end")
    print(
        f"messages_per_second={rate:.1f} ratio_to_smtp_source={rate / source_rate:.3f} "
        f"peak_rss_mb={peak:.1f} rss_growth_mb={growth:.1f}"
    )
