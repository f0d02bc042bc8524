"""After a batch that did not fill, the worker lets the next one gather (``Worker.gather``):
messages arriving one by one go out together rather than one claim each."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from openesp.delivery.worker import Batch, Worker
from openesp.messaging.models import Message, Status
from tests.processes import HANG, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _arrives(n: int) -> None:
    now = timezone.now()
    Message.objects.create(from_email="s@example.org", to_email=f"r{n}@example.net", subject="s", text_body="b",
                           created_at=now, not_before=now)  # fmt: skip


def _claims_of(worker: Worker) -> list[int]:
    """The size of every batch ``worker`` claims from now on."""
    sizes: list[int] = []
    claim_and_plan = worker._claim_and_plan

    def counted() -> Batch | None:
        batch = claim_and_plan()
        if batch is not None:
            sizes.append(len(batch.ids))
        return batch

    worker._claim_and_plan = counted  # type: ignore[method-assign]
    return sizes


def _run(worker: Worker, stop: threading.Event) -> threading.Thread:
    def work() -> None:
        try:
            worker.run(stop, idle_sleep=0.05)
        finally:
            connections.close_all()

    thread = threading.Thread(target=work)
    thread.start()
    return thread


@pytest.mark.parametrize(("gather", "together"), [(3.0, True), (0.0, False)])
def test_messages_arriving_after_a_partial_batch_gather_into_the_next(smtp_server_no_tls, settings, gather, together):
    settings.OPENESP_DEFAULT_PROVIDER = f"smtp://{smtp_server_no_tls.host}:{smtp_server_no_tls.port}?security=none"
    worker = Worker("gather", batch_size=50, pool_size=1, lease=timedelta(minutes=1), gather=gather)
    sizes = _claims_of(worker)
    stop = threading.Event()
    thread = _run(worker, stop)
    try:
        _arrives(0)
        wait_until(lambda: sizes == [1], "the first message's claim")
        for n in range(1, 6):  # one at a time, well inside the gathering time
            _arrives(n)
            time.sleep(0.15)
        wait_until(lambda: Message.objects.filter(status=Status.SENT).count() == 6, "all six to be sent")
    finally:
        stop.set()
        thread.join(HANG)
    assert not thread.is_alive()
    # Gathering, the five go out in one batch; claiming at once (the old way, gather=0), one by one.
    assert (sizes == [1, 5]) is together, sizes
    assert sum(sizes) == 6


def test_a_worker_told_to_stop_while_gathering_stops_at_once(smtp_server_no_tls, settings):
    settings.OPENESP_DEFAULT_PROVIDER = f"smtp://{smtp_server_no_tls.host}:{smtp_server_no_tls.port}?security=none"
    worker = Worker("gather-stop", batch_size=50, pool_size=1, gather=HANG * 2)
    stop = threading.Event()
    thread = _run(worker, stop)
    _arrives(0)
    wait_until(lambda: Message.objects.filter(status=Status.SENT).exists(), "the message to be sent")
    stop.set()  # the worker now waits out its gathering time: a stop ends that wait
    thread.join(HANG)
    assert not thread.is_alive()
