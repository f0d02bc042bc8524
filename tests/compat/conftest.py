"""The compatible APIs over real HTTP (pytest-django's live server), mail delivered by a real
worker to a real SMTP sink (the ``relay`` fixture), read back through ``/api/v1/messages``."""

from __future__ import annotations

import email
from email.message import Message as MimeMessage
from typing import Any

import pytest

from openesp.accounts.apikeys import create_api_key
from openesp.accounts.models import User
from tests.api.conftest import relay, worker  # noqa: F401 -- fixtures shared with the API tests


@pytest.fixture
def sender(transactional_db) -> User:
    return User.objects.create_user("alice@example.org", "correct horse battery staple", name="Alice",
                                    email_verified=True)  # fmt: skip


@pytest.fixture
def key(sender) -> str:
    return create_api_key(sender, scopes=["messages.send", "messages.read"])[1]


@pytest.fixture
def outsider_key(transactional_db) -> str:
    bob = User.objects.create_user("bob@example.org", "correct horse battery staple", email_verified=True)
    return create_api_key(bob, scopes=["messages.send", "messages.read"])[1]


def parsed(received: Any) -> MimeMessage:
    return email.message_from_bytes(received.data)


def parts(message: MimeMessage) -> dict[str, Any]:
    """content type (or attachment file name) → decoded payload, of every leaf part."""
    found: dict[str, Any] = {}
    for part in message.walk():
        if part.is_multipart():
            continue
        name = part.get_filename() or part.get_content_type()
        found[name] = part.get_payload(decode=True)
    return found
