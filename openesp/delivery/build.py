"""Build: a queued Message row → what a provider takes.

For SMTP, the bytes that go on the wire, DKIM-signed where we sign: ``job_for`` reads what it
needs from the database (in the worker); ``render`` (in ``openesp.delivery.render``, free of
Django) can run in a build process. For an API provider, an ``OutgoingMessage`` (``outgoing``):
the provider builds the MIME.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from django.conf import settings

from openesp.audience.unsubscribe import unsubscribe_headers
from openesp.delivery.dkim import DkimKey
from openesp.delivery.domains import signers_for
from openesp.delivery.mime import Attachment, OutgoingMail, format_address
from openesp.delivery.render import BuildJob, render
from openesp.esp.providers import OutgoingMessage
from openesp.esp.providers.base import ProviderAttachment
from openesp.lib.htmltext import html_to_text
from openesp.messaging.models import Message

SIGNER_CACHE_SECONDS = 60.0


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


def outgoing(message: Message, from_email: str | None = None) -> OutgoingMessage:
    """A Message for an HTTP provider. Each recipient has a Message of its own, so the copy
    says To: that recipient (the provider builds the MIME; Cc is not shown there)."""
    return OutgoingMessage(
        from_email=from_email or message.from_email,
        from_name=message.from_name,
        to=(message.to_email,),
        to_name=message.to_name,
        subject=message.subject,
        text=message.text_body or html_to_text(message.html_body),
        html=message.html_body,
        message_id=message_id_for(message),
        reply_to=message.reply_to,
        headers=tuple(unsubscribe_headers(message)),
        metadata={**message.metadata, "openesp_message_id": str(message.public_id)},
        attachments=tuple(
            ProviderAttachment(a.filename, bytes(a.data), a.content_type, a.content_id)
            for a in message.attachments.all()
        ),
    )


class SignerCache:
    """DKIM keys for a From domain, kept for a minute: parsing a PEM key costs ~0.1 s."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int | None], tuple[float, list[DkimKey]]] = {}

    def signers(self, sender: str, workspace_id: int | None) -> list[DkimKey]:
        key = (sender.rpartition("@")[2].lower(), workspace_id)
        cached = self._cache.get(key)
        now = time.monotonic()
        if cached is None or now - cached[0] > SIGNER_CACHE_SECONDS:
            cached = self._cache[key] = (now, signers_for(sender, workspace_id))
        return cached[1]
