"""A queued Message row → the bytes that go on the wire (for SMTP), DKIM-signed where we sign.

``job_for`` reads what it needs from the database (in the worker); ``render`` (in
``openesp.delivery.render``, free of Django) can run in a build process.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings

from openesp.audience.unsubscribe import unsubscribe_headers
from openesp.delivery.dkim import DkimKey
from openesp.delivery.mime import Attachment, OutgoingMail, format_address
from openesp.delivery.render import BuildJob, render
from openesp.messaging.models import Message


def message_id_for(message: Message) -> str:
    """Our Message-ID: the public id on our mail domain, so replies and bounces can be matched."""
    return f"{message.public_id}@{settings.OPENESP_MAIL_DOMAIN}"


def job_for(message: Message, *, from_email: str | None = None, signers: Sequence[DkimKey] = ()) -> BuildJob:
    """``from_email`` overrides the stored sender (a custom SMTP server's own From address)."""
    mail = OutgoingMail(
        from_email=from_email or message.from_email,
        from_name=message.from_name,
        to=[],
        subject=message.subject,
        message_id=message_id_for(message),
        text=message.text_body,
        html=message.html_body,
        reply_to=message.reply_to,
        headers=unsubscribe_headers(message),  # List-Unsubscribe where due, DKIM-signed
        attachments=[
            Attachment(a.filename, bytes(a.data), a.content_type, a.content_id) for a in message.attachments.all()
        ],
    )
    to_header = message.to_header or format_address(message.to_email, message.to_name)
    return BuildJob(mail, to_header, message.cc_header, tuple(signers))


def build(message: Message, *, from_email: str | None = None, signers: Sequence[DkimKey] = ()) -> bytes:
    return render(job_for(message, from_email=from_email, signers=signers))
