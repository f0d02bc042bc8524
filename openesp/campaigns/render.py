"""Rendering a queued campaign message at send time: the one entry point delivery calls.

A campaign message stores no body (``campaigns.recipients``). When the delivery worker is about
to send one (``message.campaign_link`` exists), it calls ``render_messages`` for its batch (or
``render_message`` for one) and gets, per message, either a ``RenderedMessage`` or the reason
not to send it:

- ``TemplateError`` (an ``InvalidInput``): the template failed for this contact — fail (bounce)
  that message with ``str(error)`` as the reason; the campaign goes on;
- ``NotSendable``: the contact was erased, or the campaign cancelled — drop the message with
  the reason;
- ``Held``: the campaign is paused — put the message back with ``not_before = campaigns.HELD``
  (``resume`` releases it).

The delivery worker splits this in two: ``prepare_messages`` (here, with the database: the
checks above and each message's context as plain data) and the render itself
(``render_prepared``, Django-free through ``campaigns.compiled``), which its build processes run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from openesp.audience.preferences import template_links
from openesp.audience.unsubscribe import signed_address, unsubscribe_headers
from openesp.campaigns.compiled import Source, render_compiled
from openesp.campaigns.models import Campaign, CampaignMessage, CampaignStatus, Purpose, TemplateVersion
from openesp.campaigns.templates import TemplateError, workspace_data
from openesp.campaigns.tokens import response_url
from openesp.lib.signing import links_for_a_batch
from openesp.messaging.models import Message


class NotSendable(Exception):
    """This message must not be sent (the contact was erased, the campaign cancelled)."""


class Held(Exception):
    """The campaign is paused: the message waits until it is resumed."""


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    html: str
    text: str
    headers: list[tuple[str, str]]  # the message's headers with List-Unsubscribe and -Post
    tracking: dict[str, bool] = field(default_factory=dict)  # the campaign's choice (Campaign.tracking)


@dataclass(frozen=True)
class Prepared:
    """A campaign message checked and ready to render, anywhere: plain data only. ``source`` is
    one object per version for a whole batch (pickled once per hand-off to a build process)."""

    source: Source
    context: dict[str, Any]
    headers: list[tuple[str, str]]
    tracking: dict[str, bool]


# What rendering reads of a recipient's contact (``context_for``, ``template_links``): loading
# only these makes a batch's query several times cheaper than whole rows.
_CONTACT_FIELDS = tuple(
    f"recipient__contact__{name}" for name in ("email", "email_key", "name", "language", "attributes", "workspace")
)


def _links(messages: Iterable[Message]) -> dict[int, CampaignMessage]:
    """The batch's links with their recipients and contacts (one query); their campaigns and
    versions, a few for a whole batch, are loaded once each and shared by the rows."""
    ids = [m.pk for m in messages]
    rows = list(
        CampaignMessage.objects.filter(message_id__in=ids)
        .select_related("recipient__contact", "recipient__entry")
        .only("campaign", "version", "purpose", "recipient__campaign", "recipient__entry__data", *_CONTACT_FIELDS)
    )
    campaigns = Campaign.objects.select_related("workspace__organization").in_bulk({r.campaign_id for r in rows})
    versions = TemplateVersion.objects.in_bulk({r.version_id for r in rows})
    for row in rows:
        row.campaign, row.version = campaigns[row.campaign_id], versions[row.version_id]
    return {row.message_id: row for row in rows}


def context_for(link: CampaignMessage) -> dict[str, Any]:
    """The template context of one message: plain data only."""
    recipient, campaign = link.recipient, link.campaign
    contact = recipient.contact
    if contact is None:
        raise NotSendable("the contact was erased")
    return {
        "contact": {
            "email": contact.email,
            "name": contact.name,
            "language": contact.language,
            "attributes": dict(contact.attributes or {}),
        },
        "campaign": {"name": campaign.name, "response_url": campaign.response_url},
        "workspace": workspace_data(campaign.workspace),
        "response_url": response_url(recipient.pk),
        **template_links(contact),
        # What triggered an automation invitation (the API call's ``data``, the date reached);
        # empty for everything else, so a template may name it whatever it is used for.
        "trigger": {"data": dict(recipient.entry.data or {}) if recipient.entry is not None else {}},
    }


def _prepare(message: Message, link: CampaignMessage | None, sources: dict[int, Source]) -> Prepared:
    if link is None:
        raise NotSendable("not a campaign message")
    status = link.campaign.status
    if status == CampaignStatus.CANCELLED and link.purpose != Purpose.RECEIPT:
        raise NotSendable("the campaign was cancelled")
    if status == CampaignStatus.PAUSED and link.purpose != Purpose.RECEIPT:
        raise Held("the campaign is paused")
    version = link.version
    source = sources.get(version.pk)
    if source is None:
        source = sources[version.pk] = Source(version.pk, version.subject, version.html, version.text)
    context = context_for(link)
    contact = link.recipient.contact
    assert contact is not None  # context_for refuses an erased contact
    # The template's unsubscribe link is the header's when made for the same address.
    same = contact.workspace_id == message.workspace_id and signed_address(contact.email) == signed_address(
        message.to_email
    )
    headers = unsubscribe_headers(message, url=context["unsubscribe_url"] if same else "")
    return Prepared(source, context, headers, dict(link.campaign.tracking or {}))


def render_prepared(prepared: Prepared, *, derive_text: bool = True) -> RenderedMessage:
    """The message's content (TemplateError when the template fails for this contact)."""
    rendered = render_compiled(prepared.source.compiled(), prepared.context, derive_text=derive_text)
    return RenderedMessage(rendered.subject, rendered.html, rendered.text, prepared.headers, prepared.tracking)


def render_message(message: Message) -> RenderedMessage:
    """Subject, HTML, text and headers of one campaign message; see the module's docstring for
    the exceptions."""
    return render_prepared(_prepare(message, _links([message]).get(message.pk), {}))


def prepare_messages(messages: list[Message]) -> dict[int, Prepared | NotSendable | Held]:
    """The first half of ``render_messages``: message id → what rendering needs, or why the
    message is not sent. Not campaign messages are left out."""
    links = _links(messages)
    sources: dict[int, Source] = {}
    results: dict[int, Prepared | NotSendable | Held] = {}
    with links_for_a_batch():
        for message in messages:
            link = links.get(message.pk)
            if link is None:
                continue
            try:
                results[message.pk] = _prepare(message, link, sources)
            except (NotSendable, Held) as exc:
                results[message.pk] = exc
    return results


def render_messages(
    messages: list[Message], *, derive_text: bool = True
) -> dict[int, RenderedMessage | TemplateError | NotSendable | Held]:
    """``render_message`` for a batch, with three queries (the links with their recipients and
    contacts, then their few campaigns and versions): message id → result or exception.

    Messages that are not campaign messages (no ``campaign_link``: mail sent through the API
    may carry a campaign category too) are left out: they are sent with their own body.
    ``derive_text=False``: a version without a text part gets ``text == ""`` instead of one
    derived from the HTML (for a caller that derives it where the MIME is built)."""
    results: dict[int, RenderedMessage | TemplateError | NotSendable | Held] = {}
    for pk, prepared in prepare_messages(messages).items():
        if not isinstance(prepared, Prepared):
            results[pk] = prepared
            continue
        try:
            results[pk] = render_prepared(prepared, derive_text=derive_text)
        except TemplateError as exc:
            results[pk] = exc
    return results


def source_of(message: Message) -> TemplateVersion | None:
    """The template version a campaign message is rendered from, None for other mail: for the
    pages that show a message, whose subject and body exist only once it is sent."""
    link = CampaignMessage.objects.filter(message=message).select_related("version__template").first()
    return link.version if link is not None else None
