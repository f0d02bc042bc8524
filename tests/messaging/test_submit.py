"""Accepting transactional mail: validation, sender rules, one Message per recipient."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from openesp.delivery.domains import add_dkim_key, verify_domain
from openesp.esp.models import EspConfig
from openesp.lib.errors import InvalidInput
from openesp.messaging.models import AddressHeaders, Event, Message, MessageBody
from openesp.messaging.senders import add_sending_domain
from openesp.messaging.submit import SenderNotAllowed, parse_submission, submit

pytestmark = pytest.mark.django_db


def _body(**extra):
    body = {"from": "alice@example.org", "to": ["bob@example.net"], "subject": "Hi", "text": "Hello"}
    body.update(extra)
    return body


def _problems(body) -> dict[str, str]:
    with pytest.raises(InvalidInput) as info:
        parse_submission(body)
    return info.value.as_dict()


def test_it_queues_one_message_per_recipient(alice, workspace):
    submission = parse_submission(
        _body(
            to=[{"email": "bob@example.net", "name": "Bob"}, "carol@example.net"],
            cc=["dave@example.net"],
            bcc=["eve@example.net"],
            html="<p>Hello</p>",
            tags=["welcome"],
            metadata={"order": "42"},
            attachments=[{"filename": "a.txt", "content": base64.b64encode(b"hello").decode(), "type": "text/plain"}],
        )
    )
    messages = submit(alice, submission, workspace=workspace)
    assert [m.to_email for m in messages] == [
        "bob@example.net", "carol@example.net", "dave@example.net", "eve@example.net",
    ]  # fmt: skip
    stored = Message.objects.get(to_email="eve@example.net")
    assert stored.visible_to == "Bob <bob@example.net>, carol@example.net"
    assert stored.visible_cc == "dave@example.net"
    assert "eve" not in stored.visible_to + stored.visible_cc
    assert (stored.status, stored.workspace, stored.organization) == ("queued", workspace, workspace.organization)
    assert stored.metadata == {"order": "42"} and stored.tags == ["welcome"]
    assert [a.data for a in stored.attachments.all()] == [b"hello"]
    assert Event.objects.filter(type="queued").count() == 4


def test_it_schedules_and_sandboxes(alice):
    later = timezone.now() + timedelta(hours=2)
    (scheduled,) = submit(alice, parse_submission(_body(send_at=later.isoformat())))
    assert abs((scheduled.not_before - later).total_seconds()) < 1
    (sandboxed,) = submit(alice, parse_submission(_body(sandbox=True)))
    assert sandboxed.status == "sandbox"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_body(to=[]), "to"),
        (_body(to=["not an address"]), "to[0]"),
        (_body(subject=""), "subject"),
        (_body(text="", html=""), "text"),
        (_body(subject="Hi\r\nBcc: victim@example.org"), "subject"),
        (_body(to=["bob@example.net\r\nBcc: victim@example.org"]), "to[0]"),
        (_body(to=[{"email": "bob@example.net", "name": "B\nob"}]), "to[0]"),
        (_body(headers={"X-Ok": "a\r\nBcc: victim@example.org"}), "headers.X-Ok"),
        (_body(headers={"X-Nul": "a\x00"}), "headers.X-Nul"),
        (_body(headers={"From": "ceo@example.org"}), "headers.From"),
        (_body(headers={"Bad Name": "x"}), "headers.Bad Name"),
        (_body(category="system"), "category"),
        (_body(to=["bob@example.net"], cc=["BOB@example.net"]), "to"),
        (_body(to=[f"u{i}@example.net" for i in range(1001)]), "to"),
        (_body(attachments=[{"filename": "a", "content": "%%%"}]), "attachments[0].content"),
        (_body(send_at="tomorrow"), "send_at"),
        (_body(send_at="2026-12-01T10:00:00"), "send_at"),
        (_body(metadata={"n": 1}), "metadata"),
        (_body(tags=["x" * 65]), "tags"),
        ({"to": ["bob@example.net"], "subject": "s", "text": "t"}, "from"),
    ],
)
def test_it_names_the_field_at_fault(body, field):
    assert field in _problems(body)


def test_it_accepts_exactly_a_thousand_recipients(alice):
    submission = parse_submission(_body(to=[f"u{i}@example.net" for i in range(1000)]))
    assert len(submit(alice, submission)) == 1000


def test_a_shared_to_and_cc_are_stored_once_for_all_recipients(alice):
    everyone = [f"u{i}@example.net" for i in range(998)]
    submit(alice, parse_submission(_body(to=everyone, cc=["c@example.net"], bcc=["b@example.net"])))
    (headers,) = AddressHeaders.objects.all()
    assert headers.to_header == ", ".join(everyone) and headers.cc_header == "c@example.net"
    # Each row refers to it and holds no copy of its own (18 KB a row here).
    assert Message.objects.filter(address_headers=headers).count() == 1000
    assert not Message.objects.exclude(to_header="", cc_header="").exists()
    bcc = Message.objects.get(to_email="b@example.net")
    assert (bcc.visible_to, bcc.visible_cc) == (headers.to_header, "c@example.net")
    # One recipient shows only themselves: nothing shared, the header (with a name) in the row.
    (named,) = submit(alice, parse_submission(_body(to=[{"email": "n@example.net", "name": "Ned"}])))
    stored = Message.objects.get(pk=named.pk)
    assert (stored.address_headers_id, stored.visible_to) == (None, "Ned <n@example.net>")
    assert AddressHeaders.objects.count() == 1


def test_the_text_and_html_are_stored_once_for_all_recipients_and_apart_from_the_queue(alice):
    made = submit(alice, parse_submission(_body(to=["a@example.net", "b@example.net"], html="<p>Hi</p>")))
    (body,) = MessageBody.objects.all()
    assert Message.objects.filter(body=body).count() == 2 and [m.body_id for m in made] == [body.pk, body.pk]
    stored = Message.objects.get(to_email="b@example.net")
    assert (stored.text_body, stored.html_body) == (body.text, "<p>Hi</p>") and body.text
    # The queue's table holds no copy: claiming and recording rewrite its rows.
    columns = {f.column for f in Message._meta.concrete_fields}
    assert "body_id" in columns and not columns & {"text_body", "html_body"}
    (alone,) = submit(alice, parse_submission(_body(to=["c@example.net"], text="Only for C")))
    assert Message.objects.get(pk=alone.pk).text_body == "Only for C" and MessageBody.objects.count() == 2


def test_it_refuses_senders_the_caller_may_not_use(alice, bob, workspace):
    with pytest.raises(SenderNotAllowed, match="not a sender you may use"):
        submit(alice, parse_submission(_body(**{"from": "ceo@bank.example"})), workspace=workspace)
    bob.email_verified = False
    bob.save()
    with pytest.raises(SenderNotAllowed):
        submit(bob, parse_submission(_body(**{"from": "bob@example.org"})))
    assert not Message.objects.exists()


def test_it_allows_the_custom_smtp_from_and_sending_domains(alice, org, workspace, charlie, dns_server):
    EspConfig.objects.create(
        user=alice, kind="smtp", host="smtp.example.com", port=587, security="starttls", from_email="news@acme.example"
    )
    submit(alice, parse_submission(_body(**{"from": "news@acme.example"})), organization=org)
    domain = add_sending_domain("mail.acme.example", workspace)
    _record, key = add_dkim_key(domain, algorithm="ed25519", selector="s1")
    # Not before the domain is verified: anyone could add anyone's domain.
    with pytest.raises(SenderNotAllowed):
        submit(alice, parse_submission(_body(**{"from": "x@mail.acme.example"})), workspace=workspace)
    dns_server.publish("s1._domainkey.mail.acme.example", key.dns_record())
    assert verify_domain(domain)[0]
    submit(alice, parse_submission(_body(**{"from": "x@mail.acme.example"})), workspace=workspace)
    # The workspace's domain is not charlie's to use.
    with pytest.raises(SenderNotAllowed):
        submit(charlie, parse_submission(_body(**{"from": "x@mail.acme.example"})))
    add_sending_domain("operator.example")
    submit(charlie, parse_submission(_body(**{"from": "x@operator.example"})))
