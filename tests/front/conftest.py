"""Fixtures for the web UI tests: clients signed in as alice, bob and charlie."""

from __future__ import annotations

import pytest
from django.test import Client

from openesp.accounts.models import User


def _client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def as_alice(alice: User) -> Client:
    return _client_for(alice)


@pytest.fixture
def as_bob(bob: User) -> Client:
    return _client_for(bob)


@pytest.fixture
def as_charlie(charlie: User) -> Client:
    return _client_for(charlie)


@pytest.fixture
def operator_providers(settings):
    """The operator runs SendGrid and Mailjet (no network: nothing here sends)."""
    settings.OPENESP_SENDGRID_API_KEY = "SG.operator"
    settings.OPENESP_SENDGRID_SENDING_DOMAIN = "mail.example.com"
    settings.OPENESP_MAILJET_API_KEY = "mj-key"
    settings.OPENESP_MAILJET_SECRET_KEY = "mj-secret"
    settings.OPENESP_MAILJET_SENDING_DOMAIN = "mail02.example.com"
    settings.OPENESP_DEFAULT_PROVIDER = ""
    return settings


def field_error(html: str, field: str) -> bool:
    """Whether the page shows an error right next to the named field."""
    return f'data-error-for="{field}"' in html
