"""Build: a queued Message row → what a provider takes.

For SMTP, the bytes that go on the wire, DKIM-signed where we sign: ``job_for`` reads what it
needs from the database (in the worker); ``render`` (in ``openesp.delivery.render``, free of
Django) can run in a build process. For an API provider, an ``OutgoingMessage`` (``outgoing``):
the provider builds the MIME.

A campaign message (invitation, reminder, receipt) stores no body: ``campaign_content``
prepares the batch's campaign messages (``campaigns.render.prepare_messages``, one query per
batch: the checks and each recipient's context as plain data). ``job_for`` hands that to the
build step, which renders it per recipient (``delivery.render``, in a build process when the
worker has them); ``outgoing`` (HTTP providers) renders it here (``rendered``).
"""

from __future__ import annotations

import email
import email.policy
import time
from collections.abc import Sequence
from email.message import EmailMessage

from django.conf import settings

from openesp.audience.unsubscribe import UNSUBSCRIBE_CATEGORIES, unsubscribe_headers
from openesp.campaigns.render import Held, NotSendable, Prepared, RenderedMessage, prepare_messages, render_prepared
from openesp.campaigns.templates import TemplateError
from openesp.delivery.claim import attachments_of
from openesp.delivery.dkim import DkimKey
from openesp.delivery.domains import signers_for
from openesp.delivery.mime import Attachment, OutgoingMail, format_address
from openesp.delivery.render import BuildJob, Personal, Tracking, render
from openesp.esp.providers import OutgoingMessage
from openesp.esp.providers.base import ProviderAttachment
from openesp.lib.htmltext import html_to_text
from openesp.messaging.models import Message, RawContent
from openesp.tracking.choice import choice_for, load_defaults
from openesp.tracking.links import tracked_html, tracked_mime, tracker

SIGNER_CACHE_SECONDS = 60.0


def message_id_for(message: Message) -> str:
    """Our Message-ID: the public id on our mail domain, so replies and bounces can be matched."""
    return f"{message.public_id}@{settings.OPENESP_MAIL_DOMAIN}"


# Only campaigns make messages of these categories without a body (the API may send them with one).
CAMPAIGN_CATEGORIES = UNSUBSCRIBE_CATEGORIES
CampaignResult = Prepared | NotSendable | Held


def campaign_content(messages: Sequence[Message]) -> dict[int, CampaignResult]:
    """Message id → what rendering each campaign message among ``messages`` needs, or why it is
    not sent (``campaigns.render``). One query for the batch; other messages are left out.
    It also reads the batch's tracking defaults (``tracking.choice.load_defaults``): this is the
    step of planning that may use the database, building the messages afterwards may not."""
    load_defaults(m.workspace_id for m in messages)
    candidates = [m for m in messages if m.category in CAMPAIGN_CATEGORIES]
    return prepare_messages(candidates) if candidates else {}


def rendered_here(prepared: Prepared) -> RenderedMessage | TemplateError:
    """A prepared campaign message rendered in this process (for ``outgoing``)."""
    try:
        return render_prepared(prepared)
    except TemplateError as exc:
        return exc


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


def _tracked_raw(message: Message, raw: bytes) -> bytes:
    """Relayed bytes with the HTML tracked where the message's tracking is on (its own
    ``X-Mailjet-TrackOpen``/``-TrackClick`` choice, else the workspace's default)."""
    tracking = choice_for(message)
    return tracked_mime(raw, message.pk, opens=tracking.opens, clicks=tracking.clicks) if tracking.any else raw


def raw_contents(messages: Sequence[Message]) -> dict[int, bytes]:
    """The relayed bytes of the messages that came in over SMTP, by ``RawContent`` id: one query
    for a batch, each shared content read once however many recipients it has."""
    wanted = {m.raw_content_id for m in messages if m.raw_content_id is not None}
    if not wanted:
        return {}
    return {pk: bytes(data) for pk, data in RawContent.objects.filter(pk__in=wanted).values_list("pk", "data")}


def _raw_of(message: Message, raws: dict[int, bytes] | None) -> bytes:
    if message.raw_content_id is None:
        return b""
    if raws is not None and message.raw_content_id in raws:
        return raws[message.raw_content_id]
    return raw_contents([message])[message.raw_content_id]


def job_for(
    message: Message,
    *,
    from_email: str | None = None,
    signers: Sequence[DkimKey] = (),
    prepared: Prepared | None = None,
    raws: dict[int, bytes] | None = None,
) -> BuildJob:
    """``from_email`` overrides the stored sender (a custom SMTP server's own From address);
    ``prepared`` is a campaign message's (``campaign_content``), rendered by the build step;
    ``raws`` the relayed bytes of a batch (``raw_contents``), read here when not given."""
    if message.raw_content_id is not None:
        replaced = from_email is not None and from_email.lower() != message.from_email.lower()
        return BuildJob(
            OutgoingMail(from_email=from_email or message.from_email, to=[], subject=message.subject,
                         message_id=message_id_for(message)),
            message.to_header, "", tuple(signers), raw=_tracked_raw(message, _raw_of(message, raws)),
            from_header=format_address(from_email, message.from_name) if replaced and from_email else "",
        )  # fmt: skip
    if prepared is not None:
        subject, html, text, headers = "", "", "", prepared.headers
        personal: Personal | None = Personal(prepared.source, prepared.context)
    else:
        subject, html, text = message.subject, message.html_body, message.text_body
        headers = unsubscribe_headers(message)
        personal = None
    choice = choice_for(message, prepared.tracking if prepared is not None else None)
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
            Attachment(a.filename, bytes(a.data), a.content_type, a.content_id) for a in attachments_of(message)
        ],
    )
    to_header = message.visible_to or format_address(message.to_email, message.to_name)
    tracking = Tracking(message.pk, choice.opens, choice.clicks, tracker()) if choice.any else None
    return BuildJob(mail, to_header, message.visible_cc, tuple(signers), personal=personal, tracking=tracking)


def build(
    message: Message,
    *,
    from_email: str | None = None,
    signers: Sequence[DkimKey] = (),
    prepared: Prepared | None = None,
) -> bytes:
    return render(job_for(message, from_email=from_email, signers=signers, prepared=prepared))


def outgoing(
    message: Message, from_email: str | None = None, *, rendered: RenderedMessage | None = None
) -> OutgoingMessage:
    """A Message for an HTTP provider. Each recipient has a Message of its own, so the copy
    says To: that recipient (the provider builds the MIME; Cc is not shown there).
    ``rendered``: a campaign message's content (``campaign_content``)."""
    subject, html, text, headers = _content(message, rendered)
    attachments = tuple(
        ProviderAttachment(a.filename, bytes(a.data), a.content_type, a.content_id) for a in attachments_of(message)
    )
    if message.raw_content_id is not None:
        # An HTTP provider builds the MIME itself: it gets the relayed message's parts.
        text, html, attachments = relayed_parts(_raw_of(message, None))
        tracking = choice_for(message)
        if tracking.any and html:
            text = text or html_to_text(html)  # from the HTML as written, not the tracked links
            html = tracked_html(html, message.pk, opens=tracking.opens, clicks=tracking.clicks)
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
        attachments=attachments,
    )


def relayed_parts(raw: bytes) -> tuple[str, str, tuple[ProviderAttachment, ...]]:
    """Text, HTML and attachments of a relayed message, for a provider that takes parts."""
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    text_part, html_part = parsed.get_body(("plain",)), parsed.get_body(("html",))
    # The wire's CRLF line ends become the LF the providers' JSON bodies use.
    text = text_part.get_content().replace("\r\n", "\n") if text_part is not None else ""
    html = html_part.get_content().replace("\r\n", "\n") if html_part is not None else ""
    files = []
    for part in parsed.iter_attachments():
        assert isinstance(part, EmailMessage)
        content = part.get_payload(decode=True)
        cid = (part.get("Content-ID") or "").strip("<> ")
        files.append(
            ProviderAttachment(part.get_filename() or "attachment", content if isinstance(content, bytes) else b"",
                               part.get_content_type(), cid)
        )  # fmt: skip
    return text, html, tuple(files)


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
