"""django-anymail's SendGrid and Mailjet backends, pointed at openesp by their API URL settings:
a Django project that sends through either provider moves to openesp with settings alone."""

from __future__ import annotations

import pytest
import requests
from django.core.mail import EmailMultiAlternatives

from openesp.messaging.models import Message
from tests.compat.conftest import parsed, parts


def _mail() -> EmailMultiAlternatives:
    mail = EmailMultiAlternatives(
        subject="Your order",
        body="Thanks for your order.",
        from_email="Alice <alice@example.org>",
        to=["Rita <rita@example.net>"],
        cc=["carl@example.net"],
        reply_to=["help@example.org"],
        headers={"X-Order-Id": "99"},
    )
    mail.attach_alternative("<p>Thanks for your order.</p>", "text/html")
    mail.attach("terms.txt", b"the terms", "text/plain")
    mail.tags = ["orders"]  # type: ignore[attr-defined]
    mail.metadata = {"order": "99"}  # type: ignore[attr-defined]
    return mail


# anymail 15 warns that it no longer supports SendGrid officially; its backend still ships and is
# what existing projects run, so it is tested as it is.
@pytest.mark.filterwarnings("ignore:django-anymail has dropped official support for SendGrid")
@pytest.mark.parametrize("provider", ["sendgrid", "mailjet"])
def test_anymail_backends_send_through_openesp(provider, settings, live_server, key, relay, worker):
    if provider == "sendgrid":
        options = {"api_key": key, "api_url": f"{live_server.url}/v3/"}
    else:
        options = {"api_key": "apikey", "secret_key": key, "api_url": f"{live_server.url}/v3.1/"}
    # Django 6.1's MAILERS (EMAIL_BACKEND is deprecated); anymail reads its options from there.
    settings.MAILERS = {"default": {"BACKEND": f"anymail.backends.{provider}.EmailBackend", "OPTIONS": options}}
    mail = _mail()

    assert mail.send() == 1

    statuses = mail.anymail_status.recipients  # type: ignore[attr-defined]
    assert {s.status for s in statuses.values()} == ({"queued"} if provider == "sendgrid" else {"sent"})
    assert worker.run_once() == 2
    by_rcpt = {m.rcpt_tos[0]: parsed(m) for m in relay.messages}
    mime = by_rcpt["rita@example.net"]
    assert mime["Subject"] == "Your order" and mime["X-Order-Id"] == "99"
    assert mime["Reply-To"] == "help@example.org"
    assert "carl@example.net" in mime["Cc"]
    found = parts(mime)
    assert found["terms.txt"] == b"the terms"
    assert b"Thanks for your order." in found["text/plain"] and b"<p>Thanks" in found["text/html"]
    raw = b"".join(m.data for m in relay.messages)
    assert b"orders" not in raw and b'"order"' not in raw
    message = Message.objects.get(to_email="rita@example.net")
    shown = requests.get(f"{live_server.url}/api/v1/messages/{message.public_id}",
                         headers={"Authorization": f"Bearer {key}"}, timeout=30).json()  # fmt: skip
    assert shown["tags"] == ["orders"]
    if provider == "sendgrid":  # custom_args, with anymail's own id beside ours
        assert shown["metadata"]["order"] == "99" and "anymail_id" in shown["metadata"]
    else:  # anymail's Mailjet backend sends metadata as the EventPayload JSON
        assert shown["metadata"] == {"EventPayload": '{"order": "99"}'}
