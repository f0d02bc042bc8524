"""The message page and the API show the From as delivered: a custom SMTP server sends with its
own From address, so a mail that asked for another one shows the one that went out."""

from __future__ import annotations

import email
import email.policy

import pytest
from django.test import Client
from django.urls import reverse

from openesp.audience import actions as audience
from openesp.audience.consent import Consent
from openesp.delivery.worker import Worker
from openesp.esp.models import EspConfig
from openesp.messaging.models import Message
from tests.api.conftest import api_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def worker():
    w = Worker("test-delivered-from", pool_size=1)
    yield w
    w.close()


def _org_smtp(org, server) -> EspConfig:
    config = EspConfig(
        kind="smtp", host=server.host, port=server.port, security=server.security,
        from_email="news@acme.example", username=server.username, organization=org,
    )  # fmt: skip
    config.set_password(server.password)
    config.save()
    return config


def _confirmation(workspace) -> Message:
    """A double opt-in confirmation: a platform mail asking for the server's own no-reply address."""
    contact = audience.create_contact(workspace, "reader@example.net")
    digest = audience.create_list(workspace, "Digest", double_opt_in=True)
    audience.subscribe(contact, digest, Consent(source="form"))
    return Message.objects.get(to_email="reader@example.net")


def _page(client: Client, message: Message) -> str:
    response = client.get(reverse("ws-message", args=[message.workspace_id, message.public_id]))
    assert response.status_code == 200
    return response.content.decode()


def test_a_mail_through_the_organizations_smtp_shows_the_from_that_went_out(alice, org, workspace, smtp_server, worker):
    _org_smtp(org, smtp_server)
    message = _confirmation(workspace)
    asked = message.from_email
    assert asked != "news@acme.example"
    client = Client()
    client.force_login(alice)
    assert 'data-testid="requested-from"' not in _page(client, message)  # not sent yet: as asked

    assert worker.run_once() == 1
    (received,) = smtp_server.messages
    delivered = email.message_from_bytes(received.data, policy=email.policy.default)
    went_out = delivered["From"].addresses[0]
    assert went_out.addr_spec == "news@acme.example"

    message.refresh_from_db()
    assert message.sent_from == "news@acme.example"
    page = _page(client, message)
    shown_from = page.split('data-testid="message-from">', 1)[1].split("</dd>", 1)[0]
    assert "news@acme.example" in shown_from and asked not in shown_from
    if went_out.display_name:
        assert went_out.display_name in shown_from
    assert asked in page.split('data-testid="requested-from">', 1)[1].split("</dd>", 1)[0]

    answer = api_for(alice).get(f"/api/v1/messages/{message.public_id}")
    assert answer.status_code == 200
    body = answer.json()
    assert body["sent_from"] == "news@acme.example" and body["from"]["email"] == asked


def test_a_mail_through_the_operators_relay_keeps_its_own_from(
    alice, org, workspace, smtp_server_no_tls, worker, settings
):
    # The relay keeps each message's sender: the page shows one From, the one asked for.
    settings.OPENESP_DEFAULT_PROVIDER = f"smtp://{smtp_server_no_tls.host}:{smtp_server_no_tls.port}?security=none"
    message = _confirmation(workspace)
    assert worker.run_once() == 1
    (received,) = smtp_server_no_tls.messages
    delivered = email.message_from_bytes(received.data, policy=email.policy.default)
    assert delivered["From"].addresses[0].addr_spec == message.from_email
    message.refresh_from_db()
    assert message.provider_kind == "relay" and message.sent_from == message.from_email
    client = Client()
    client.force_login(alice)
    page = _page(client, message)
    assert 'data-testid="requested-from"' not in page
    assert message.from_email in page.split('data-testid="message-from">', 1)[1].split("</dd>", 1)[0]
