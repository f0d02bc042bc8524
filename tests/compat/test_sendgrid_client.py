"""SendGrid's official Python client (``sendgrid`` from PyPI), pointed at openesp by its host only."""

from __future__ import annotations

import base64
import time

import pytest
import requests
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Attachment,
    BatchId,
    Category,
    ContentId,
    CustomArg,
    Disposition,
    FileContent,
    FileName,
    FileType,
    Header,
    Mail,
    SendAt,
)

from openesp.accounts.apikeys import create_api_key
from openesp.accounts.models import Membership, Organization, Role, Workspace
from openesp.campaigns.models import Template, TemplateVersion
from openesp.messaging.models import Message, Status
from tests.compat.conftest import parsed, parts

PDF = b"%PDF-1.4 a tiny invoice"
PNG = b"\x89PNG\r\n\x1a\n-logo-"


def _client(live_server, key) -> SendGridAPIClient:
    return SendGridAPIClient(key, host=live_server.url)


def test_the_mail_helper_with_attachments_categories_and_custom_args_is_delivered(live_server, key, relay, worker):
    mail = Mail(
        from_email=("alice@example.org", "Alice"),
        to_emails=["rita@example.net", "sam@example.net"],
        subject="Your invoice",
        plain_text_content="Thanks for your order.",
        html_content='<p>Thanks for your order.</p><img src="cid:logo">',
    )
    mail.attachment = Attachment(FileContent(base64.b64encode(PDF).decode()), FileName("invoice.pdf"),
                                 FileType("application/pdf"), Disposition("attachment"))  # fmt: skip
    inline = Attachment(FileContent(base64.b64encode(PNG).decode()), FileName("logo.png"), FileType("image/png"),
                        Disposition("inline"), ContentId("logo"))  # fmt: skip
    mail.add_attachment(inline)
    mail.category = Category("invoices")
    mail.custom_arg = CustomArg("order", "A-42")
    mail.header = Header("X-Order-Id", "42")

    response = _client(live_server, key).send(mail)

    assert response.status_code == 202
    assert response.body == b""
    first = Message.objects.get(public_id=response.headers["X-Message-Id"])
    assert Message.objects.count() == 2  # one per recipient
    assert worker.run_once() == 2
    delivered = {m.rcpt_tos[0]: parsed(m) for m in relay.messages}
    assert set(delivered) == {"rita@example.net", "sam@example.net"}
    mime = delivered["rita@example.net"]
    assert mime["Subject"] == "Your invoice"
    assert mime["X-Order-Id"] == "42"
    found = parts(mime)
    assert found["invoice.pdf"] == PDF and found["logo.png"] == PNG
    assert b"Thanks for your order." in found["text/plain"]
    logo = next(p for p in mime.walk() if p.get_filename() == "logo.png")
    assert logo["Content-ID"] == "<logo>"
    raw = b"".join(m.data for m in relay.messages)
    # Categories and custom args are the message's tags and metadata, never headers of the mail.
    assert b"invoices" not in raw and b"A-42" not in raw and b"X-SMTPAPI" not in raw
    shown = requests.get(f"{live_server.url}/api/v1/messages/{first.public_id}",
                         headers={"Authorization": f"Bearer {key}"}, timeout=30).json()  # fmt: skip
    assert shown["tags"] == ["invoices"]
    assert shown["metadata"] == {"order": "A-42"}
    assert shown["status"] == "sent"


def test_dynamic_template_data_renders_an_openesp_template(live_server, key, sender, relay, worker):
    org = Organization.objects.create(name="Shop")
    Membership.objects.create(organization=org, user=sender, role=Role.OWNER)
    workspace = Workspace.objects.create(organization=org, name="Shop")
    # SendGrid-style placeholders, the same in Handlebars and Jinja2, saved through openesp's own
    # template API: they are the template's data variables.
    templates_key = create_api_key(sender, scopes=["campaigns"])[1]
    made = requests.post(
        f"{live_server.url}/api/v1/templates",
        json={"name": "receipt", "subject": "Hello {{name}}", "html": "<p>Order {{order.id}} for {{ name }}</p>",
              "workspace": workspace.pk},
        headers={"Authorization": f"Bearer {templates_key}"},
        timeout=30,
    )  # fmt: skip
    assert made.status_code == 201, made.text
    assert made.json()["data_variables"] == ["name", "order"]
    mail = Mail(from_email="alice@example.org", to_emails="rita@example.net")
    mail.template_id = str(made.json()["id"])
    mail.dynamic_template_data = {"name": "Rita", "order": {"id": "A-7"}}

    assert _client(live_server, key).send(mail).status_code == 202

    assert worker.run_once() == 1
    mime = parsed(relay.messages[0])
    assert mime["Subject"] == "Hello Rita"
    assert b"Order A-7 for Rita" in parts(mime)["text/html"]


def test_a_handlebars_block_is_refused_naming_template_id(live_server, key, sender):
    org = Organization.objects.create(name="Shop")
    Membership.objects.create(organization=org, user=sender, role=Role.OWNER)
    workspace = Workspace.objects.create(organization=org, name="Shop")
    template = Template.objects.create(workspace=workspace, name="list")
    TemplateVersion.objects.create(template=template, number=1, subject="Items",
                                   html="{% raw %}{{#each items}}{{this}}{{/each}}{% endraw %}")  # fmt: skip
    mail = Mail(from_email="alice@example.org", to_emails="rita@example.net")
    mail.template_id = template.pk
    with pytest.raises(HTTPError) as refused:
        _client(live_server, key).send(mail)
    assert refused.value.status_code == 400
    (error,) = refused.value.to_dict["errors"]
    assert error["field"] == "template_id" and "Handlebars" in error["message"]
    assert Message.objects.count() == 0


def test_a_scheduled_send_is_cancelled_by_its_batch_id(live_server, key, relay, worker):
    client = _client(live_server, key)
    batch = client.client.mail.batch.post()
    assert batch.status_code == 201
    batch_id = batch.to_dict["batch_id"]
    assert client.client.mail.batch._(batch_id).get().to_dict == {"batch_id": batch_id}
    mail = Mail(from_email="alice@example.org", to_emails="rita@example.net", subject="Tomorrow",
                plain_text_content="See you")  # fmt: skip
    mail.batch_id = BatchId(batch_id)
    mail.send_at = SendAt(int(time.time()) + 3600)
    assert client.send(mail).status_code == 202

    cancelled = client.client.user.scheduled_sends.post(request_body={"batch_id": batch_id, "status": "cancel"})

    assert cancelled.status_code == 201
    assert cancelled.to_dict == {"batch_id": batch_id, "status": "cancel"}
    assert client.client.user.scheduled_sends._(batch_id).get().to_dict == [{"batch_id": batch_id, "status": "cancel"}]
    (message,) = Message.objects.all()
    assert message.status == Status.CANCELLED
    assert worker.run_once() == 0 and relay.messages == []


def test_a_paused_batch_holds_its_mail_and_resuming_sends_it(live_server, key, relay, worker):
    client = _client(live_server, key)
    batch_id = client.client.mail.batch.post().to_dict["batch_id"]
    paused = client.client.user.scheduled_sends.post(request_body={"batch_id": batch_id, "status": "pause"})
    assert paused.status_code == 201
    mail = Mail(from_email="alice@example.org", to_emails="rita@example.net", subject="Now", plain_text_content="Hi")
    mail.batch_id = BatchId(batch_id)
    assert client.send(mail).status_code == 202  # sent into a paused batch: held at once
    assert worker.run_once() == 0 and relay.messages == []

    assert client.client.user.scheduled_sends._(batch_id).delete().status_code == 204

    assert worker.run_once() == 1
    assert [m.rcpt_tos for m in relay.messages] == [["rita@example.net"]]
    assert client.client.user.scheduled_sends.get().to_dict == []


def test_another_account_cannot_see_or_cancel_a_batch(live_server, key, outsider_key):
    batch_id = _client(live_server, key).client.mail.batch.post().to_dict["batch_id"]
    stranger = _client(live_server, outsider_key).client
    for call in (
        lambda: stranger.mail.batch._(batch_id).get(),
        lambda: stranger.user.scheduled_sends._(batch_id).get(),
        lambda: stranger.user.scheduled_sends._(batch_id).delete(),
        lambda: stranger.user.scheduled_sends._(batch_id).patch(request_body={"status": "cancel"}),
        lambda: stranger.user.scheduled_sends.post(request_body={"batch_id": batch_id, "status": "cancel"}),
    ):
        with pytest.raises(HTTPError) as refused:
            call()
        assert refused.value.status_code == 404
        assert refused.value.to_dict == {"errors": [{"message": "batch id not found", "field": None, "help": None}]}
    mail = Mail(from_email="bob@example.org", to_emails="rita@example.net", subject="x", plain_text_content="y")
    mail.batch_id = BatchId(batch_id)
    with pytest.raises(HTTPError) as refused:
        _client(live_server, outsider_key).send(mail)
    assert refused.value.status_code == 400
    assert refused.value.to_dict["errors"][0]["field"] == "batch_id"
    assert Message.objects.count() == 0


def test_cancelling_a_paused_batch_cancels_its_held_mail_and_a_resumed_batch_sends_again(live_server, key, relay,
                                                                                          worker):  # fmt: skip
    client = _client(live_server, key).client
    batch_id = client.mail.batch.post().to_dict["batch_id"]

    def send(subject):
        mail = Mail(from_email="alice@example.org", to_emails="rita@example.net", subject=subject,
                    plain_text_content="x")  # fmt: skip
        mail.batch_id = BatchId(batch_id)
        assert _client(live_server, key).send(mail).status_code == 202

    send("first")
    client.user.scheduled_sends.post(request_body={"batch_id": batch_id, "status": "pause"})
    send("second")
    assert client.user.scheduled_sends._(batch_id).patch(request_body={"status": "cancel"}).status_code == 204
    assert sorted(Message.objects.values_list("status", flat=True)) == ["cancelled", "cancelled"]
    client.user.scheduled_sends._(batch_id).delete()
    send("third")
    assert worker.run_once() == 1
    assert [parsed(m)["Subject"] for m in relay.messages] == ["third"]


def test_another_accounts_template_is_not_found_naming_template_id(live_server, key, outsider_key, sender):
    org = Organization.objects.create(name="Shop")
    Membership.objects.create(organization=org, user=sender, role=Role.OWNER)
    workspace = Workspace.objects.create(organization=org, name="Shop")
    template = Template.objects.create(workspace=workspace, name="private")
    TemplateVersion.objects.create(template=template, number=1, subject="Secret {{name}}", html="<p>secret</p>")
    mail = Mail(from_email="bob@example.org", to_emails="rita@example.net")
    mail.template_id = str(template.pk)
    with pytest.raises(HTTPError) as refused:
        _client(live_server, outsider_key).send(mail)
    assert refused.value.status_code == 400
    (error,) = refused.value.to_dict["errors"]
    assert error["field"] == "template_id" and "no template" in error["message"]
    assert "Secret" not in refused.value.body.decode()
    assert Message.objects.count() == 0


def test_a_pause_racing_sends_into_the_batch_leaves_every_waiting_message_held(live_server, key):
    from concurrent.futures import ThreadPoolExecutor

    from openesp.campaigns.campaigns import HELD

    client = _client(live_server, key).client
    batch_id = client.mail.batch.post().to_dict["batch_id"]

    def send(i):
        mail = Mail(from_email="alice@example.org", to_emails=f"r{i}@example.net", subject="x", plain_text_content="y")
        mail.batch_id = BatchId(batch_id)
        mail.send_at = SendAt(int(time.time()) + 600)  # scheduled: no worker may take it meanwhile
        return _client(live_server, key).send(mail).status_code

    def pause(_i):
        return client.user.scheduled_sends.post(request_body={"batch_id": batch_id, "status": "pause"}).status_code

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda i: pause(i) if i == 3 else send(i), range(8)))

    assert answers == [202, 202, 202, 201, 202, 202, 202, 202]
    # Whichever came first, the pause or a send, no message of the paused batch is due.
    assert {m.not_before for m in Message.objects.all()} == {HELD}
