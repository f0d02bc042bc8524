"""API test helpers: a client that sends a bearer key, and a guard that no response in these
tests ever carries a secret."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client

from openesp.accounts.apikeys import create_api_key
from openesp.accounts.models import User, Workspace
from openesp.delivery.worker import Worker

# Every SMTP password used in the API tests; the autouse guard below fails a test if any
# response body contains one.
SMTP_PASSWORD = "smtp-pass-Zq9-do-not-echo"
OTHER_PASSWORD = "another-smtp-pass-Xk3"
SECRETS = (SMTP_PASSWORD, OTHER_PASSWORD)

_responses: list[HttpResponse] = []


class Api:
    """A Django test client speaking JSON with ``Authorization: Bearer <key>``."""

    def __init__(self, key: str | None) -> None:
        self.key = key
        self.client = Client()

    def call(self, method: str, path: str, body: Any = None, *, raw: str | None = None, **query: Any) -> Any:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {self.key}"} if self.key is not None else {}
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        if method == "GET":
            response = self.client.get(path, query, **headers)
        else:
            response = self.client.generic(method, path, data, content_type="application/json", **headers)
        _responses.append(response)
        return response

    def get(self, path: str, **query: Any) -> Any:
        return self.call("GET", path, **query)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call("PUT", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call("PATCH", path, body, **kw)

    def delete(self, path: str) -> Any:
        return self.call("DELETE", path)


@pytest.fixture(autouse=True)
def _no_secret_in_any_response():
    _responses.clear()
    yield
    for response in _responses:
        body = response.content.decode("utf-8", "replace")
        for secret in SECRETS:
            assert secret not in body, f"a secret leaked in the response to {response.request}"
    _responses.clear()


def api_for(user: User, *, workspace: Workspace | None = None, scopes: list[str] | None = None) -> Api:
    _key, raw = create_api_key(user, workspace=workspace, scopes=scopes)
    return Api(raw)


@pytest.fixture
def alice_api(alice) -> Api:
    return api_for(alice)


@pytest.fixture
def bob_api(bob) -> Api:
    return api_for(bob)


@pytest.fixture
def charlie_api(charlie) -> Api:
    return api_for(charlie)


@pytest.fixture
def smtp_body() -> dict[str, Any]:
    return {
        "kind": "smtp",
        "host": "smtp.example.com",
        "port": 587,
        "security": "starttls",
        "from_email": "news@example.com",
        "username": "mailer",
        "password": SMTP_PASSWORD,
    }


@pytest.fixture
def worker() -> Iterator[Worker]:
    w = Worker("t")
    yield w
    w.close()


@pytest.fixture
def relay(settings: Any, smtp_server_no_tls: Any) -> Any:
    """The operator's relay is the loopback test server: mail with no other provider goes there."""
    settings.OPENESP_DEFAULT_PROVIDER = f"smtp://127.0.0.1:{smtp_server_no_tls.port}?security=none"
    return smtp_server_no_tls
