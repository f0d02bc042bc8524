"""Build: a queued Message row → what a provider takes.

For SMTP, the bytes that go on the wire, DKIM-signed where we sign: ``job_for`` reads what it
needs from the database (in the worker); ``render`` (in ``openesp.delivery.render``, free of
Django) can run in a build process. For an API provider, an ``OutgoingMessage`` (``outgoing``):
the provider builds the MIME.

A campaign message (invitation, reminder, receipt) stores no body: ``campaign_content``
renders the batch's campaign messages per recipient (``campaigns.render``, one query per
batch), and ``job_for``/``outgoing`` take the result instead of the stored subject and body.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from django.conf import settings

from openesp.audience.unsubscribe import UNSUBSCRIBE_CATEGORIES, unsubscribe_headers
from openesp.campaigns.render import Held, NotSendable, RenderedMessage, render_messages
from openesp.campaigns.templates import TemplateError
from openesp.delivery.dkim import DkimKey
from openesp.delivery.domains import signers_for
from openesp.delivery.mime import Attachment, OutgoingMail, format_address
from openesp.delivery.render import BuildJob, render
from openesp.esp.providers import OutgoingMessage
from openesp.esp.providers.base import ProviderAttachment
from openesp.lib.htmltext import html_to_text
from openesp.messaging.models import Message
from openesp.tracking.choice import choice_for, load_defaults
from openesp.tracking.links import tracked_html

SIGNER_CACHE_SECONDS = 60.0


def message_id_for(message: Message) -> str:
    """Our Message-ID: the public id on our mail domain, so replies and bounces can be matched."""
    return f"{message.public_id}@{settings.OPENESP_MAIL_DOMAIN}"


# Only campaigns make messages of these categories without a body (the API may send them with one).
CAMPAIGN_CATEGORIES = UNSUBSCRIBE_CATEGORIES
CampaignResult = RenderedMessage | TemplateError | NotSendable | Held


def campaign_content(messages: Sequence[Message]) -> dict[int, CampaignResult]:
    """Message id → the rendered content of each campaign message among ``messages``, or why it
    is not sent (``campaigns.render``). One query for the batch; other messages are left out.
    It also reads the batch's tracking defaults (``tracking.choice.load_defaults``): this is the
    step of planning that may use the database, building the messages afterwards may not."""
    load_defaults(m.workspace_id for m in messages)
    candidates = [m for m in messages if m.category in CAMPAIGN_CATEGORIES]
    # A missing text part is derived from the HTML where the MIME is built (``OutgoingMail``, in
    # a build process; ``outgoing`` for API providers), not here in the worker's own process.
    return render_messages(candidates, derive_text=False) if candidates else {}


def _content(message: Message, rendered: RenderedMessage | None) -> tuple[str, str, str, list[tuple[str, str]]]:
    """Subject, HTML (tracked where chosen: ``openesp.tracking``), text and headers
    (List-Unsubscribe where due, DKIM-signed)."""
    if rendered is not None:
        subject, html, text, headers = rendered.subject, rendered.html, rendered.text, rendered.headers
    else:
        subject, html, text, headers = (
            message.subject,
            message.html_body,
            message.text_body,
            unsubscribe_headers(message),
        )
    tracking = choice_for(message, rendered.tracking if rendered is not None else None)
    if tracking.any and html:
        if not text:  # derived from the HTML as written, not from the tracked links
            text = html_to_text(html)
        html = tracked_html(html, message.pk, opens=tracking.opens, clicks=tracking.clicks)
    return subject, html, text, headers


def job_for(
    message: Message,
    *,
    from_email: str | None = None,
    signers: Sequence[DkimKey] = (),
    rendered: RenderedMessage | None = None,
) -> BuildJob:
    """``from_email`` overrides the stored sender (a custom SMTP server's own From address);
    ``rendered`` is a campaign message's content (``campaign_content``)."""
    subject, html, text, headers = _content(message, rendered)
    mail = OutgoingMail(
        from_email=from_email or message.from_email,
        from_name=message.from_name,
        to=[],
        subject=subject,
        message_id=message_id_for(message),
        text=text,
        html=html,
        reply_to=message.reply_to,
        headers=headers,
        attachments=[
            Attachment(a.filename, bytes(a.data), a.content_type, a.content_id) for a in message.attachments.all()
        ],
    )
    to_header = message.to_header or format_address(message.to_email, message.to_name)
    return BuildJob(mail, to_header, message.cc_header, tuple(signers))


def build(
    message: Message,
    *,
    from_email: str | None = None,
    signers: Sequence[DkimKey] = (),
    rendered: RenderedMessage | None = None,
) -> bytes:
    return render(job_for(message, from_email=from_email, signers=signers, rendered=rendered))


def outgoing(
    message: Message, from_email: str | None = None, *, rendered: RenderedMessage | None = None
) -> OutgoingMessage:
    """A Message for an HTTP provider. Each recipient has a Message of its own, so the copy
    says To: that recipient (the provider builds the MIME; Cc is not shown there).
    ``rendered``: a campaign message's content (``campaign_content``)."""
    subject, html, text, headers = _content(message, rendered)
    return OutgoingMessage(
        from_email=from_email or message.from_email,
        from_name=message.from_name,
        to=(message.to_email,),
        to_name=message.to_name,
        subject=subject,
        text=text or html_to_text(html),
        html=html,
        message_id=message_id_for(message),
        reply_to=message.reply_to,
        headers=tuple(headers),
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
