"""Outbound webhooks end to end: an endpoint on loopback that checks every request with the
``standardwebhooks`` verifier gets each event of the types it chose, in order per message,
also after failing several times; the outbox is written in the events' transaction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from openesp.delivery.worker import Worker
from openesp.hooksout.deliver import backoff, deliver_due
from openesp.hooksout.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from openesp.messaging.eventlog import add_events
from openesp.messaging.models import Event, EventType, Message
from tests.api.conftest import api_for
from tests.servers.webhooks import WebhookReceiver

pytestmark = pytest.mark.django_db(transaction=True)
DATA_KEYS = {
    "message_id", "email", "workspace_id", "category", "campaign_id", "smtp_code", "enhanced_status", "detail", "url",
}  # fmt: skip


@pytest.fixture
def receiver(settings: Any) -> Iterator[WebhookReceiver]:
    settings.OPENESP_ALLOW_PRIVATE_WEBHOOK_HOSTS = True
    server = WebhookReceiver().start()
    yield server
    server.stop()


def _endpoint(user: Any, workspace: Any, receiver: WebhookReceiver, events: list[str]) -> dict[str, Any]:
    response = api_for(user).post(
        "/api/v1/webhooks", {"url": receiver.url, "events": events, "workspace": workspace.pk}
    )
    assert response.status_code == 201, response.content
    created = response.json()
    receiver.secret = created["secret"]
    return created


def _message(workspace: Any, to: str) -> Message:
    return Message.objects.create(
        workspace=workspace, organization=workspace.organization, from_email="a@example.org", to_email=to, subject="s"
    )


def test_the_delivery_worker_delivers_sent_mail_events_the_standard_verifier_accepts(alice, workspace, receiver, relay):
    _endpoint(alice, workspace, receiver, ["message.sent"])
    ws_api = api_for(alice)
    body = {"from": "alice@example.org", "to": ["rcpt@example.net"], "subject": "Hi", "text": "t"}
    (message_id,) = ws_api.post("/api/v1/messages", {**body, "workspace": workspace.pk}).json()["ids"]
    worker = Worker("t", schedule_every=0)  # runs the between-claims jobs at every claim
    try:
        assert worker.run_once() == 1  # sends the message: the sent event queues the webhook
        assert worker.run_once() == 0  # nothing to send; between claims, the webhook goes out
    finally:
        worker.close()
    assert receiver.refused == []
    (event,) = receiver.accepted
    assert event["type"] == "message.sent"
    assert set(event["data"]) == DATA_KEYS
    assert event["data"]["message_id"] == message_id
    assert event["data"]["email"] == "rcpt@example.net"
    assert event["data"]["workspace_id"] == workspace.pk
    assert event["data"]["smtp_code"] == 250
    assert WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED


def test_an_endpoint_failing_five_times_then_recovering_gets_every_event_in_order(alice, workspace, receiver):
    _endpoint(alice, workspace, receiver, ["message.sent", "message.delivered", "message.opened", "message.clicked"])
    first, second = _message(workspace, "one@example.net"), _message(workspace, "two@example.net")
    sequence = [EventType.SENT, EventType.DELIVERED, EventType.OPENED, EventType.CLICKED]
    for type_ in sequence:  # one batch per step, as events arrive over a message's life
        add_events([Event(message=first, type=type_), Event(message=second, type=type_)])
    add_events([Event(message=first, type=EventType.QUEUED)])  # a type no endpoint can choose
    receiver.fail_next = 5
    now = timezone.now()
    rounds = 0
    while WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).exists():
        deliver_due(now)
        now += backoff(10)  # past any wait so far: every round finds the next due rows
        rounds += 1
        assert rounds < 50, "the outbox never drained"
    assert receiver.failed == 5 and receiver.refused == []
    assert len(receiver.accepted) == 8
    for message in (first, second):
        got = [e["type"] for e in receiver.accepted if e["data"]["message_id"] == str(message.public_id)]
        assert got == [f"message.{t}" for t in sequence]
    # A retried delivery keeps its webhook-id (receivers de-duplicate by it).
    assert len(set(receiver.ids)) == 8
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}
    assert max(WebhookDelivery.objects.values_list("attempts", flat=True)) >= 2


def test_a_later_event_waits_while_an_earlier_one_of_the_message_is_pending(alice, workspace, receiver):
    _endpoint(alice, workspace, receiver, ["message.sent", "message.delivered"])
    message = _message(workspace, "one@example.net")
    add_events([Event(message=message, type=EventType.SENT)])
    add_events([Event(message=message, type=EventType.DELIVERED)])
    receiver.fail_next = 1
    assert deliver_due() == 1  # only the head of the message's queue is tried
    assert receiver.accepted == []
    assert deliver_due() == 0  # the head backs off, and the second waits behind it
    deliver_due(timezone.now() + timedelta(hours=2))
    deliver_due(timezone.now() + timedelta(hours=2))
    assert [e["type"] for e in receiver.accepted] == ["message.sent", "message.delivered"]


def test_the_outbox_row_rolls_back_with_its_event(alice, workspace, receiver):
    _endpoint(alice, workspace, receiver, ["message.bounced"])
    message = _message(workspace, "one@example.net")
    queued: list[int] = []

    def fail_after_writing() -> None:
        with transaction.atomic():
            add_events([Event(message=message, type=EventType.BOUNCED, smtp_code=550, enhanced_status="5.1.1")])
            queued.append(WebhookDelivery.objects.count())
            raise RuntimeError("the caller's transaction fails")

    with pytest.raises(RuntimeError):
        fail_after_writing()
    assert queued == [1]
    assert WebhookDelivery.objects.count() == 0


def test_events_of_other_workspaces_and_unchosen_types_are_not_queued(alice, workspace, receiver, charlie_org):
    _endpoint(alice, workspace, receiver, ["message.bounced"])
    other = charlie_org.workspaces.create(name="Charlie's")
    add_events([Event(message=_message(other, "x@example.net"), type=EventType.BOUNCED)])
    add_events([Event(message=_message(workspace, "y@example.net"), type=EventType.SENT)])
    assert WebhookDelivery.objects.count() == 0


def test_private_addresses_are_refused_unless_the_operator_allows_them(alice, workspace, settings, receiver):
    created = _endpoint(alice, workspace, receiver, ["message.sent"])
    settings.OPENESP_ALLOW_PRIVATE_WEBHOOK_HOSTS = False
    refused = api_for(alice).post(
        "/api/v1/webhooks", {"url": "http://127.0.0.1:9/x", "events": ["message.sent"], "workspace": workspace.pk}
    )
    assert refused.status_code == 422 and "url" in refused.content.decode()
    # A name that resolves to loopback is refused when the request is made.
    add_events([Event(message=_message(workspace, "y@example.net"), type=EventType.SENT)])
    WebhookEndpoint.objects.filter(pk=created["id"]).update(url=receiver.url.replace("127.0.0.1", "localhost"))
    assert deliver_due() == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and "not allowed" in delivery.last_error
    assert receiver.accepted == []


def test_the_test_button_sends_one_verified_test_event(alice, workspace, receiver):
    created = _endpoint(alice, workspace, receiver, ["message.sent"])
    answer = api_for(alice).post(f"/api/v1/webhooks/{created['id']}/test").json()
    assert answer["status"] == "delivered" and answer["last_status_code"] == 204
    (event,) = receiver.accepted
    assert event["type"] == "webhook.test" and set(event["data"]) == DATA_KEYS


def test_an_https_endpoint_with_a_certificate_nobody_vouches_for_is_not_trusted(
    alice, workspace, settings, test_certificate
):
    settings.OPENESP_ALLOW_PRIVATE_WEBHOOK_HOSTS = True
    server = WebhookReceiver(tls=test_certificate.server_context()).start()
    try:
        _endpoint(alice, workspace, server, ["message.sent"])
        add_events([Event(message=_message(workspace, "y@example.net"), type=EventType.SENT)])
        assert deliver_due() == 1
    finally:
        server.stop()
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and "CERTIFICATE_VERIFY_FAILED" in delivery.last_error
    assert server.accepted == []


def test_the_metrics_backlog_gauge_counts_deliveries_waiting(alice, workspace, receiver):
    from openesp.lib.gauges import registered_gauges

    (gauge,) = [g for g in registered_gauges() if g.name == "openesp_webhook_backlog"]
    assert gauge.read() == [({}, 0.0)]
    _endpoint(alice, workspace, receiver, ["message.sent", "message.delivered"])
    message = _message(workspace, "backlog@example.net")
    add_events([Event(message=message, type=EventType.SENT), Event(message=message, type=EventType.DELIVERED)])
    assert gauge.read() == [({}, 2.0)]
    deliver_due()
    assert gauge.read() == [({}, 1.0)]
