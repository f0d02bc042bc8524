"""A stored Message becomes a complete, DKIM-signed RFC 5322 message."""

from __future__ import annotations

import base64
import email
import email.policy

import dkim
import pytest
from django.conf import settings
from django.utils import timezone

from openesp.delivery.build import build
from openesp.delivery.domains import add_dkim_key, signers_for
from openesp.messaging.senders import add_sending_domain
from openesp.messaging.submit import parse_submission, submit

pytestmark = pytest.mark.django_db


def test_it_builds_and_signs_a_submitted_message(alice, workspace):
    domain = add_sending_domain("mail.acme.example", workspace)
    _record, key = add_dkim_key(domain, algorithm="rsa", selector="s1")
    domain.verified_at = timezone.now()  # the DNS check is tested in test_domain_verification.py
    domain.save()
    (message, _second) = submit(
        alice,
        parse_submission(
            {
                "from": {"email": "news@mail.acme.example", "name": "Acme News"},
                "to": [{"email": "bob@example.net", "name": "Bob"}, "carol@example.net"],
                "reply_to": "help@acme.example",
                "subject": "Nyheter för dig",
                "text": "Hej!",
                "html": "<p>Hej!</p>",
                "headers": {"X-Campaign": "spring"},
                "attachments": [{"filename": "a.txt", "content": base64.b64encode(b"data").decode()}],
            }
        ),
        workspace=workspace,
    )
    raw = build(message, signers=signers_for(message.from_email, workspace.pk))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["From"] == "Acme News <news@mail.acme.example>"
    assert parsed["To"] == "Bob <bob@example.net>, carol@example.net"
    assert parsed["Reply-To"] == "help@acme.example"
    assert parsed["Subject"] == "Nyheter för dig"
    assert parsed["Message-ID"] == f"<{message.public_id}@{settings.OPENESP_MAIL_DOMAIN}>"
    assert parsed["X-Campaign"] == "spring"
    assert [a.get_filename() for a in parsed.iter_attachments()] == ["a.txt"]

    def dns(name: bytes, timeout: int = 5) -> bytes:
        return key.dns_record().encode()

    assert dkim.verify(raw, dnsfunc=dns)
