"""Helpers of the events tests: a SendGrid signing key, Mailjet credentials, sent messages."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone

from openesp.events.process import process_pending
from openesp.messaging.models import Message, Status
from openesp.messaging.submit import parse_submission, submit

MAILJET_USER, MAILJET_PASSWORD = "mj-hook", "mj-hook-pass-7Qe"


class Signer:
    """Signs bodies the way SendGrid's Signed Event Webhook does, with a key made for the test."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public = base64.b64encode(der).decode()

    def headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = self.key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        }


@pytest.fixture
def signer(settings) -> Signer:
    made = Signer()
    settings.OPENESP_SENDGRID_WEBHOOK_PUBLIC_KEY = made.public
    return made


@pytest.fixture
def mailjet_credentials(settings) -> tuple[str, str]:
    settings.OPENESP_MAILJET_WEBHOOK_USER = MAILJET_USER
    settings.OPENESP_MAILJET_WEBHOOK_PASSWORD = MAILJET_PASSWORD
    return MAILJET_USER, MAILJET_PASSWORD


@pytest.fixture
def http(live_server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        yield client


def sent(user, workspace, addresses: list[str], provider: str = "sendgrid") -> list[Message]:
    """Messages as the worker leaves them after a provider accepted them."""
    messages = submit(
        user,
        parse_submission({"from": user.email, "to": addresses, "subject": "Hello", "text": "Plain body"}),
        workspace=workspace,
    )
    Message.objects.filter(pk__in=[m.pk for m in messages]).update(
        status=Status.SENT, provider_kind=provider, sent_at=timezone.now()
    )
    return list(Message.objects.filter(pk__in=[m.pk for m in messages]).order_by("id"))


def process_all() -> int:
    total = 0
    while done := process_pending():
        total += done
    return total
