"""A server that fails in every way, then recovers: mail is deferred and later sent; a 550
bounces and suppresses the address."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from openesp.audience.models import Suppression
from openesp.delivery.queue import Backoff
from openesp.delivery.worker import Worker
from openesp.messaging.models import Event, Message
from openesp.messaging.submit import parse_submission, submit
from tests.servers.flaky import FlakySmtpServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def flaky(settings):
    server = FlakySmtpServer().start()
    settings.OPENESP_DEFAULT_PROVIDER = f"smtp://{server.host}:{server.port}?security=none"
    settings.OPENESP_SENDGRID_API_KEY = settings.OPENESP_MAILJET_API_KEY = ""
    settings.OPENESP_SMTP_TIMEOUT = 3
    yield server
    server.stop()


def _due_now() -> None:
    # Instead of waiting for the backoff, make deferred mail due (the schedule is tested apart).
    Message.objects.filter(status="deferred").update(not_before=timezone.now())


@pytest.mark.parametrize("pipelining", [True, False])
def test_it_defers_through_an_outage_and_sends_after_it(alice, workspace, flaky, pipelining):
    flaky.pipelining = pipelining
    submit(
        alice,
        parse_submission(
            {"from": alice.email, "to": [f"r{i}@example.net" for i in range(10)], "subject": "s", "text": "t"}
        ),
        workspace=workspace,
    )
    flaky.refuse["r9@example.net"] = "550 5.1.1 No such user"
    worker = Worker("fault-test", batch_size=50, pool_size=2, backoff=Backoff(jitter=0))
    try:
        for mode in ("greet421", "rcpt451", "drop"):
            flaky.mode = mode
            _due_now()
            worker.run_once()
            statuses = dict(Message.objects.values_list("to_email", "status"))
            assert statuses.pop("r9@example.net") in ("deferred", "bounced")
            assert set(statuses.values()) == {"deferred"}, (mode, statuses)
        flaky.mode = "ok"
        _due_now()
        worker.run_once()
    finally:
        worker.close()

    statuses = dict(Message.objects.values_list("to_email", "status"))
    assert statuses.pop("r9@example.net") == "bounced"
    assert set(statuses.values()) == {"sent"}
    assert sorted(r for r, _ in flaky.received) == [f"r{i}@example.net" for i in range(9)]
    # Each failure is on record with what the server said.
    details = list(Event.objects.filter(type="deferred").values_list("smtp_code", "detail"))
    assert any(code == 421 for code, _ in details)
    assert any(code == 451 for code, _ in details)
    assert any("closed the connection" in detail for _, detail in details)
    bounce = Event.objects.get(type="bounced")
    assert (bounce.smtp_code, bounce.enhanced_status) == (550, "5.1.1")
    assert Suppression.objects.filter(workspace=workspace, email="r9@example.net").exists()
    # Every attempt was counted, and the backoff moved not_before forward each time.
    assert Message.objects.get(to_email="r0@example.net").attempts == 4


def test_it_schedules_retries_further_apart(alice, flaky):
    flaky.mode = "rcpt451"
    (message,) = submit(alice, parse_submission({"from": alice.email, "to": ["x@example.net"], "subject": "s",
                                                 "text": "t"}))  # fmt: skip
    worker = Worker("fault-test", backoff=Backoff(jitter=0))
    try:
        delays = []
        for _ in range(3):
            before = timezone.now()
            worker.run_once()
            message.refresh_from_db()
            delays.append(round((message.not_before - before).total_seconds() / 60))
            Message.objects.filter(pk=message.pk).update(not_before=timezone.now() - timedelta(seconds=1))
    finally:
        worker.close()
    assert delays == [1, 2, 4]
