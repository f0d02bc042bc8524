"""The operator sees when links in mail point elsewhere than the address the server was reached
at (issue 10, item 1: "a mismatch with the request's host is shown to the operator")."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from openesp.accounts.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("op@example.com", "operator passphrase 1"))
    return client


def test_a_superuser_sees_both_addresses_when_they_differ(operator, settings):
    settings.OPENESP_BASE_URL = "http://127.0.0.1:8000"
    html = operator.get(reverse("home"), HTTP_HOST="127.0.0.1:8055").content.decode()
    assert 'data-testid="base-url-mismatch"' in html
    assert "Links in mail point at http://127.0.0.1:8000, but you reached this server at http://127.0.0.1:8055" in html


def test_no_notice_when_they_match(operator, settings):
    settings.OPENESP_BASE_URL = "http://localhost"
    assert 'base-url-mismatch"' not in operator.get(reverse("home"), HTTP_HOST="LOCALHOST:80").content.decode()
    settings.OPENESP_BASE_URL = "http://127.0.0.1:8055"
    assert 'base-url-mismatch"' not in operator.get(reverse("home"), HTTP_HOST="127.0.0.1:8055").content.decode()


def test_other_users_never_see_it(as_alice, client, settings):
    settings.OPENESP_BASE_URL = "http://127.0.0.1:8000"
    assert 'base-url-mismatch"' not in as_alice.get(reverse("home"), HTTP_HOST="127.0.0.1:8055").content.decode()
    assert 'base-url-mismatch"' not in client.get(reverse("login"), HTTP_HOST="127.0.0.1:8055").content.decode()


def test_the_notice_speaks_swedish(operator, settings):
    settings.OPENESP_BASE_URL = "http://127.0.0.1:8000"
    html = operator.get(reverse("home"), HTTP_HOST="127.0.0.1:8055", HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert "Länkar i e-post pekar på http://127.0.0.1:8000" in html
