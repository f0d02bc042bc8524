"""The ids we send come back: a message sent through the (local) SendGrid and Mailjet APIs by the
real worker, an event built from what the provider received, posted to our hooks, matched."""

from __future__ import annotations

import json
import time

import pytest

from openesp.delivery.worker import Worker
from openesp.esp.models import EspConfig
from openesp.messaging.models import Message
from openesp.messaging.submit import parse_submission, submit
from tests.events.conftest import MAILJET_PASSWORD, MAILJET_USER

pytestmark = pytest.mark.django_db(transaction=True)


def _send_one(alice, workspace) -> Message:
    (message,) = submit(
        alice,
        parse_submission({"from": alice.email, "to": ["rita@example.net"], "subject": "Hi", "text": "Hello"}),
        workspace=workspace,
    )
    worker = Worker("round-trip", pool_size=1)
    try:
        worker.run_once()
    finally:
        worker.close()
    message.refresh_from_db()
    assert message.status == "sent"
    return message


def test_sendgrid_events_find_the_message_by_the_custom_args_we_sent(
    http, signer, alice, org, workspace, sendgrid_server
):
    EspConfig.objects.create(organization=org, kind="sendgrid")
    message = _send_one(alice, workspace)
    custom_args = sendgrid_server.requests[-1].json()["custom_args"]
    # SendGrid copies custom_args into each event as top-level fields.
    event = {
        "email": "rita@example.net",
        "timestamp": int(time.time()),
        "event": "delivered",
        "sg_event_id": "rt-1",
        "sg_message_id": message.provider_message_id,
        "response": "250 OK",
        **custom_args,
    }
    body = json.dumps([event]).encode()
    assert http.post("/hooks/sendgrid", content=body, headers=signer.headers(body)).status_code == 200
    worker = Worker("round-trip", pool_size=1)
    try:
        worker.run_once()  # nothing to send; the inbox is worked off
    finally:
        worker.close()
    message.refresh_from_db()
    assert message.status == "delivered"


def test_mailjet_events_find_the_message_by_custom_id_and_event_payload(
    http, mailjet_credentials, alice, org, workspace, mailjet_server
):
    EspConfig.objects.create(organization=org, kind="mailjet")
    message = _send_one(alice, workspace)
    sent = [r for r in mailjet_server.requests if r.path == "/v3.1/send"][-1].json()["Messages"][0]
    event = {"event": "bounce", "time": int(time.time()), "MessageID": 1, "email": "rita@example.net",
             "CustomID": sent["CustomID"], "Payload": sent["EventPayload"], "hard_bounce": True,
             "error_related_to": "recipient", "error": "user unknown"}  # fmt: skip
    response = http.post("/hooks/mailjet", json=event, auth=(MAILJET_USER, MAILJET_PASSWORD))
    assert response.status_code == 200
    worker = Worker("round-trip", pool_size=1)
    try:
        worker.run_once()
    finally:
        worker.close()
    message.refresh_from_db()
    assert message.status == "bounced"
