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


def test_a_body_over_the_limit_is_413_in_each_apis_shape(live_server, key, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    big = _body(content=[{"type": "text/plain", "value": "x" * 5000}])
    response = _post(live_server, key, big)
    assert response.status_code == 413 and response.json()["errors"][0]["field"] is None
    mailjet = requests.post(f"{live_server.url}/v3.1/send", json={"Messages": [big]}, auth=("apikey", key), timeout=30)
    assert mailjet.status_code == 413 and mailjet.json()["StatusCode"] == 413
    assert Message.objects.count() == 0


def test_wrong_keys_are_limited_per_client_with_429(live_server, key, settings):
    settings.OPENESP_API_KEY_FAILURES_PER_MINUTE = 2
    answers = [_post(live_server, "oe_abcdefgh_" + "y" * 43, _body()).status_code for _ in range(3)]
    assert answers == [401, 401, 429]
    # Over the limit even the right key waits: otherwise the 429s would not slow guessing down.
    limited = _post(live_server, key, _body())
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert set(limited.json()["errors"][0]) == {"message", "field", "help"}


def test_a_method_a_route_does_not_take_is_405_in_sendgrids_shape(live_server, key):
    response = requests.get(f"{live_server.url}/v3/mail/send", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert response.status_code == 405 and response.headers["Allow"] == "POST"
    assert set(response.json()["errors"][0]) == {"message", "field", "help"}


def test_a_workspace_key_sends_in_its_workspace_and_a_viewers_key_may_not(live_server, sender, transactional_db):
    from openesp.accounts.models import Membership, Organization, Role, User, Workspace
    from openesp.messaging.senders import add_sending_domain

    org = Organization.objects.create(name="Shop")
    workspace = Workspace.objects.create(organization=org, name="Shop")
    Membership.objects.create(organization=org, user=sender, role=Role.OWNER)
    viewer = User.objects.create_user("vic@example.org", "correct horse battery staple", email_verified=True)
    Membership.objects.create(organization=org, user=viewer, role=Role.VIEWER).workspaces.add(workspace)
    add_sending_domain("shop.example")  # the operator's domain: anyone may send from it
    editor_key = create_api_key(sender, workspace=workspace, scopes=["messages.send"])[1]
    viewer_key = create_api_key(viewer, workspace=workspace, scopes=["messages.send"])[1]
    body = _body(**{"from": {"email": "orders@shop.example"}})

    assert _post(live_server, editor_key, body).status_code == 202
    assert Message.objects.get().workspace == workspace
    refused = _post(live_server, viewer_key, body)
    assert refused.status_code == 403 and "viewers" in refused.json()["errors"][0]["message"]
    assert Message.objects.count() == 1


def test_send_at_substitutions_reply_to_list_and_kept_settings(live_server, key):
    from datetime import UTC, datetime

    from openesp.compat.models import CompatMessage, CompatSend

    when = int(time.time()) + 3600
    body = _body(
        personalizations=[
            {"to": [{"email": "rita@example.net"}], "substitutions": {"-name-": "Rita"}, "send_at": when},
            {"to": [{"email": "sam@example.net"}], "substitutions": {"-name-": "Sam"}, "subject": "Yo -name-"},
        ],
        subject="Hi -name-",
        content=[{"type": "text/plain", "value": "Dear -name-"}],
        reply_to_list=[{"email": "help@example.org"}, {"email": "other@example.org"}],
        tracking_settings={"click_tracking": {"enable": True}},
        asm={"group_id": 5},
    )
    assert _post(live_server, key, body).status_code == 202
    rita, sam = Message.objects.get(to_email="rita@example.net"), Message.objects.get(to_email="sam@example.net")
    assert (rita.subject, rita.text_body, sam.subject, sam.text_body) == ("Hi Rita", "Dear Rita", "Yo Sam", "Dear Sam")
    assert rita.not_before == datetime.fromtimestamp(when, UTC) and sam.not_before < rita.not_before
    assert rita.reply_to == "help@example.org"
    assert {s.settings["asm"]["group_id"] for s in CompatSend.objects.all()} == {5}
    assert CompatMessage.objects.count() == 2


def test_a_plain_send_writes_no_compat_rows(live_server, key):
    from openesp.compat.models import CompatMessage, CompatSend

    assert _post(live_server, key, _body()).status_code == 202
    assert CompatSend.objects.count() == CompatMessage.objects.count() == 0


def test_mailjet_refuses_a_request_without_messages_or_with_too_many(live_server, key):
    url = f"{live_server.url}/v3.1/send"
    one = {"From": {"Email": "alice@example.org"}, "To": [{"Email": "r@example.net"}], "Subject": "s", "TextPart": "t"}
    none = requests.post(url, json={}, auth=("apikey", key), timeout=30)
    assert none.status_code == 400 and none.json()["ErrorRelatedTo"] == ["Messages"]
    many = requests.post(url, json={"Messages": [one] * 51}, auth=("apikey", key), timeout=30)
    assert many.status_code == 400 and many.json()["ErrorCode"] == "mj-0004"
    assert Message.objects.count() == 0


def test_tracking_switches_become_the_messages_tracking_choice(live_server, key):
    settings = {"open_tracking": {"enable": False}, "click_tracking": {"enable": True}}
    assert _post(live_server, key, _body(tracking_settings=settings)).status_code == 202
    assert Message.objects.get().tracking == {"opens": False, "clicks": True}
    url = f"{live_server.url}/v3.1/send"
    one = {"From": {"Email": "alice@example.org"}, "Subject": "s", "TextPart": "t"}
    messages = [
        {**one, "To": [{"Email": "on@example.net"}], "TrackOpens": "enabled", "TrackClicks": "disabled"},
        {**one, "To": [{"Email": "default@example.net"}], "TrackOpens": "account_default"},
    ]
    assert requests.post(url, json={"Messages": messages}, auth=("apikey", key), timeout=30).status_code == 200
    assert Message.objects.get(to_email="on@example.net").tracking == {"opens": True, "clicks": False}
    assert Message.objects.get(to_email="default@example.net").tracking == {}
