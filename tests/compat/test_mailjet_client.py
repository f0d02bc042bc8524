"""Mailjet's official Python client (``mailjet-rest`` from PyPI), pointed at openesp by its URL."""

from __future__ import annotations

import base64
import json

import pytest
import requests
from mailjet_rest import Client
from mailjet_rest.errors import ValidationError

from openesp.accounts.apikeys import create_api_key
from openesp.messaging.models import IdempotencyRecord, Message
from tests.compat.conftest import parsed, parts


def _client(live_server, key, user="apikey") -> Client:
    return Client(auth=(user, key), version="v3.1", api_url=live_server.url + "/")


def test_a_single_message_is_sent_and_answered_with_mailjets_ids(live_server, key, relay, worker):
    result = _client(live_server, key).send.create(
        data={
            "Messages": [
                {
                    "From": {"Email": "alice@example.org", "Name": "Alice"},
                    "To": [{"Email": "rita@example.net", "Name": "Rita"}],
                    "Cc": [{"Email": "carl@example.net"}],
                    "Subject": "Your receipt",
                    "TextPart": "Thanks",
                    "HTMLPart": "<p>Thanks</p>",
                    "Headers": {"X-Order-Id": "7"},
                    "Attachments": [{"ContentType": "text/plain", "Filename": "note.txt",
                                     "Base64Content": base64.b64encode(b"a note").decode()}],
                    "CustomID": "order-7",
                    "EventPayload": "payload-7",
                    "CustomCampaign": "receipts",
                    "TrackOpens": "enabled",
                }
            ]
        }
    )  # fmt: skip
    assert result.status_code == 200, result.text
    (answer,) = result.json()["Messages"]
    assert answer["Status"] == "success" and answer["CustomID"] == "order-7"
    (to,) = answer["To"]
    (cc,) = answer["Cc"]
    assert cc["Email"] == "carl@example.net" and cc["MessageID"] != to["MessageID"]
    assert answer["Bcc"] == []
    assert isinstance(to["MessageID"], int) and to["Email"] == "rita@example.net"
    message = Message.objects.get(pk=to["MessageID"])
    assert str(message.public_id) == to["MessageUUID"] and to["MessageHref"].endswith(
        f"/api/v1/messages/{to['MessageUUID']}"
    )
    assert worker.run_once() == 2
    mime = parsed(next(m for m in relay.messages if m.rcpt_tos == ["rita@example.net"]))
    assert mime["X-Order-Id"] == "7" and mime["Subject"] == "Your receipt"
    assert parts(mime)["note.txt"] == b"a note"
    raw = b"".join(m.data for m in relay.messages)
    assert b"order-7" not in raw and b"payload-7" not in raw and b"receipts" not in raw
    shown = requests.get(to["MessageHref"].replace("http://127.0.0.1:8000", live_server.url),
                         headers={"Authorization": f"Bearer {key}"}, timeout=30).json()  # fmt: skip
    assert shown["metadata"] == {"CustomID": "order-7", "EventPayload": "payload-7"}
    assert shown["tags"] == ["receipts"]


def test_globals_are_merged_into_every_message(live_server, key, relay, worker):
    result = _client(live_server, key).send.create(
        data={
            "Globals": {"From": {"Email": "alice@example.org"}, "Subject": "Hello {{var:name:\"friend\"}}",
                        "TextPart": "Hi {{var:name}}", "TemplateLanguage": True, "Headers": {"X-Shared": "1"}},
            "Messages": [
                {"To": [{"Email": "rita@example.net"}], "Variables": {"name": "Rita"}, "Headers": {"X-Own": "r"}},
                {"To": [{"Email": "sam@example.net"}]},
            ],
        }
    )  # fmt: skip
    assert result.status_code == 200, result.text
    assert [m["Status"] for m in result.json()["Messages"]] == ["success", "success"]
    assert worker.run_once() == 2
    by_rcpt = {m.rcpt_tos[0]: parsed(m) for m in relay.messages}
    rita, sam = by_rcpt["rita@example.net"], by_rcpt["sam@example.net"]
    assert rita["Subject"] == "Hello Rita" and sam["Subject"] == "Hello friend"
    assert (rita["X-Shared"], rita["X-Own"], sam["X-Shared"], sam["X-Own"]) == ("1", "r", "1", None)
    assert b"Hi Rita" in parts(rita)["text/plain"]


def test_a_partial_failure_sends_the_good_messages_and_answers_400(live_server, key, relay, worker):
    with pytest.raises(ValidationError) as refused:
        _client(live_server, key).send.create(
        data={
            "Messages": [
                {"From": {"Email": "alice@example.org"}, "To": [{"Email": "rita@example.net"}], "Subject": "ok",
                 "TextPart": "fine"},
                {"From": {"Email": "alice@example.org"}, "To": [{"Email": "not-an-address"}], "Subject": "bad",
                 "TextPart": "x"},
                {"From": {"Email": "ceo@bank.example"}, "To": [{"Email": "sam@example.net"}], "Subject": "forged",
                 "TextPart": "x"},
            ]
        }
    )  # fmt: skip
    # The client raises for any 4xx; the answer is Mailjet's, a status for each message.
    assert refused.value.status_code == 400
    good, bad, forged = json.loads(refused.value.response_body)["Messages"]
    assert good["Status"] == "success"
    assert bad["Status"] == "error" and forged["Status"] == "error"
    (error,) = bad["Errors"]
    assert (error["ErrorCode"], error["ErrorRelatedTo"], error["StatusCode"]) == ("mj-0013", ["To[0].Email"], 400)
    assert forged["Errors"][0]["ErrorCode"] == "send-0008"
    assert worker.run_once() == 1
    assert [m.rcpt_tos for m in relay.messages] == [["rita@example.net"]]


def test_a_retry_with_the_same_idempotency_key_queues_nothing_new(live_server, key):
    body = {"Messages": [{"From": {"Email": "alice@example.org"}, "To": [{"Email": "rita@example.net"}],
                          "Subject": "once", "TextPart": "x"}]}  # fmt: skip
    headers = {"Idempotency-Key": "retry-1"}
    auth = ("apikey", key)
    first = requests.post(f"{live_server.url}/v3.1/send", json=body, auth=auth, headers=headers, timeout=30)
    again = requests.post(f"{live_server.url}/v3.1/send", json=body, auth=auth, headers=headers, timeout=30)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert Message.objects.count() == 1 and IdempotencyRecord.objects.count() == 1
    # The official client sends a key of its own, derived from the body: its retries are safe too.
    assert _client(live_server, key).send.create(data=body).status_code == 200
    assert _client(live_server, key).send.create(data=body).status_code == 200
    assert Message.objects.count() == 2


def test_sandbox_mode_and_the_keys_public_part_as_user(live_server, key, relay, worker):
    prefix = key.split("_")[1]
    result = _client(live_server, key, user=f"oe_{prefix}").send.create(
        data={
            "SandboxMode": True,
            "Messages": [
                {
                    "From": {"Email": "alice@example.org"},
                    "To": [{"Email": "rita@example.net"}],
                    "Subject": "s",
                    "TextPart": "t",
                }
            ],
        }
    )
    assert result.status_code == 200
    assert Message.objects.get().status == "sandbox"
    assert worker.run_once() == 0 and relay.messages == []


def test_it_refuses_wrong_keys_and_users_in_mailjets_shape(live_server, key, sender):
    body = {"Messages": [{"From": {"Email": "alice@example.org"}, "To": [{"Email": "r@example.net"}],
                          "Subject": "s", "TextPart": "t"}]}  # fmt: skip
    for auth in (("apikey", "wrong"), ("someone-else", key)):
        refused = requests.post(f"{live_server.url}/v3.1/send", json=body, auth=auth, timeout=30)
        assert refused.status_code == 401
        assert refused.json()["ErrorCode"] == "mj-0002" and refused.json()["StatusCode"] == 401
    reader = create_api_key(sender, scopes=["messages.read"])[1]
    assert (
        requests.post(f"{live_server.url}/v3.1/send", json=body, auth=("apikey", reader), timeout=30).status_code == 403
    )
    broken = requests.post(f"{live_server.url}/v3.1/send", data=b"{", auth=("apikey", key), timeout=30)
    assert broken.status_code == 400 and broken.json()["ErrorCode"] == "mj-0031"
    assert Message.objects.count() == 0


def test_template_id_renders_a_template_saved_in_the_editor_with_the_variables(live_server, key, sender, relay, worker):
    from openesp.accounts.models import Membership, Organization, Role, Workspace
    from openesp.campaigns.templates import create_template

    org = Organization.objects.create(name="Shop")
    Membership.objects.create(organization=org, user=sender, role=Role.OWNER)
    workspace = Workspace.objects.create(organization=org, name="Shop")
    version = create_template(workspace, name="receipt", subject="Receipt for {{ contact.attributes.name }}",
                              html="<p>{{ trigger.data.total }} paid, {{ contact.email }}</p>")  # fmt: skip
    result = _client(live_server, key).send.create(
        data={
            "Messages": [
                {
                    "From": {"Email": "alice@example.org"},
                    "To": [{"Email": "rita@example.net"}],
                    "TemplateID": version.template_id,
                    "TemplateLanguage": True,
                    "Variables": {"name": "Rita", "total": "12 EUR"},
                }
            ]
        }
    )
    assert result.status_code == 200, result.text
    assert worker.run_once() == 1
    mime = parsed(relay.messages[0])
    assert mime["Subject"] == "Receipt for Rita"
    assert b"12 EUR paid, rita@example.net" in parts(mime)["text/html"]


def test_an_unknown_template_id_refuses_that_message_naming_it(live_server, key):
    body = {"Messages": [{"From": {"Email": "alice@example.org"}, "To": [{"Email": "rita@example.net"}],
                          "TemplateID": 987654}]}  # fmt: skip
    refused = requests.post(f"{live_server.url}/v3.1/send", json=body, auth=("apikey", key), timeout=30)
    assert refused.status_code == 400
    (entry,) = refused.json()["Messages"]
    assert entry["Status"] == "error" and entry["Errors"][0]["ErrorRelatedTo"] == ["TemplateID"]
    assert Message.objects.count() == 0
