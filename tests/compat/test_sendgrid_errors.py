"""``/v3/…`` errors in SendGrid's shape: ``{"errors": [{"message", "field", "help"}]}``."""

from __future__ import annotations

import time

import pytest
import requests

from openesp.accounts.apikeys import create_api_key
from openesp.messaging.models import Message


def _post(live_server, key, body, path="/v3/mail/send"):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.post(f"{live_server.url}{path}", json=body, headers=headers, timeout=30)


def _body(**extra):
    body = {
        "personalizations": [{"to": [{"email": "rita@example.net"}]}],
        "from": {"email": "alice@example.org"},
        "subject": "Hi",
        "content": [{"type": "text/plain", "value": "Hello"}],
    }
    body.update(extra)
    return body


def test_it_answers_a_good_send_with_202_an_empty_body_and_the_message_id(live_server, key):
    response = _post(live_server, key, _body())
    assert response.status_code == 202 and response.content == b""
    assert str(Message.objects.get().public_id) == response.headers["X-Message-Id"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"from": {"email": "not an address"}}, "from.email"),
        ({"personalizations": [{"to": []}]}, "personalizations.0.to"),
        ({"personalizations": [{"to": [{"email": "a@example.net"}], "cc": [{"email": "A@example.net"}]}]},
         "personalizations.0.cc"),
        ({"content": None}, "content"),
        ({"reply_to": {"email": "a@example.org"}, "reply_to_list": [{"email": "b@example.org"}]}, "reply_to_list"),
        ({"send_at": int(time.time()) + 80 * 3600}, "send_at"),
        ({"personalizations": [{"to": [{"email": f"r{i}@example.net"} for i in range(1001)]}]}, "personalizations"),
        ({"headers": {"X-Bad": "one\r\nBcc: victim@example.net"}}, "headers.X-Bad"),
    ],
)  # fmt: skip
def test_it_refuses_bad_bodies_naming_the_json_path(live_server, key, change, field):
    body = {k: v for k, v in _body(**change).items() if v is not None}
    response = _post(live_server, key, body)
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert field in [e["field"] for e in errors]
    assert all(set(e) == {"message", "field", "help"} for e in errors)
    assert Message.objects.count() == 0


def test_it_answers_401_403_and_404_in_sendgrids_shape(live_server, key, sender):
    assert _post(live_server, None, _body()).status_code == 401
    wrong = _post(live_server, "oe_abcdefgh_" + "x" * 43, _body())
    assert wrong.status_code == 401 and wrong.json()["errors"][0]["field"] is None
    reader = create_api_key(sender, scopes=["messages.read"])[1]
    assert _post(live_server, reader, _body()).status_code == 403
    stranger = _post(live_server, key, _body(**{"from": {"email": "ceo@bank.example"}}))
    assert stranger.status_code == 403 and stranger.json()["errors"][0]["field"] == "from"
    missing = requests.get(f"{live_server.url}/v3/templates", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert missing.status_code == 404
    assert missing.json() == {"errors": [{"message": "resource not found", "field": None, "help": None}]}
    assert Message.objects.count() == 0


def test_sandbox_mode_records_without_delivering(live_server, key, relay, worker):
    response = _post(live_server, key, _body(mail_settings={"sandbox_mode": {"enable": True}}))
    assert response.status_code == 202
    assert Message.objects.get().status == "sandbox"
    assert worker.run_once() == 0 and relay.messages == []
