"""A queued Message row → the bytes that go on the wire (for SMTP), DKIM-signed where we sign."""

from __future__ import annotations

from django.conf import settings

from openesp.delivery.dkim import DkimKey
from openesp.delivery.mime import Attachment, OutgoingMail, format_address
from openesp.messaging.models import Message


def message_id_for(message: Message) -> str:
    """Our Message-ID: the public id on our mail domain, so replies and bounces can be matched."""
    return f"{message.public_id}@{settings.OPENESP_MAIL_DOMAIN}"


def build(message: Message, *, from_email: str | None = None, signers: list[DkimKey] | None = None) -> bytes:
    """``from_email`` overrides the stored sender (a custom SMTP server's own From address)."""
    to_header = message.to_header or format_address(message.to_email, message.to_name)
    mail = OutgoingMail(
        from_email=from_email or message.from_email,
        from_name=message.from_name,
        to=[],
        subject=message.subject,
        message_id=message_id_for(message),
        text=message.text_body,
        html=message.html_body,
        reply_to=message.reply_to,
        headers=list(message.headers.items()),
        attachments=[
            Attachment(a.filename, bytes(a.data), a.content_type, a.content_id) for a in message.attachments.all()
        ],
    )
    raw = mail.to_bytes(to_header=to_header, cc_header=message.cc_header)
    for signer in signers or ():
        raw = signer.sign(raw)
    return raw
