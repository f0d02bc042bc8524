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

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

from openesp.audience.models import Contact
from openesp.audience.preferences import links_for
from openesp.audience.unsubscribe import signed_address, unsubscribe_headers
from openesp.campaigns.compiled import Source, render_compiled
from openesp.campaigns.models import (
    AutomationEntry,
    Campaign,
    CampaignMessage,
    CampaignStatus,
    Purpose,
    Recipient,
    TemplateVersion,
)
from openesp.campaigns.templates import TemplateError, workspace_data
from openesp.campaigns.tokens import response_url
from openesp.lib.fastread import Columns, fetch, one_of
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


@dataclass(frozen=True, slots=True)
class _Contact:
    """What rendering reads of a recipient's contact (``context_for``, ``preferences.links_for``)."""

    id: int
    email: str
    email_key: str
    name: str
    language: str
    attributes: dict[str, Any] | None
    workspace_id: int


@dataclass(frozen=True, slots=True)
class _Link:
    """A campaign message's link with what rendering reads of its recipient, as plain data."""

    message_id: int
    campaign: Campaign
    version: TemplateVersion
    purpose: str
    recipient_id: int
    contact: _Contact | None  # None: erased
    trigger_data: dict[str, Any] | None  # an automation entry's data


# (database alias) → the SQL and the columns of its three tables, planned once.
_PLANS: dict[str, tuple[str, list[Columns[Any]]]] = {}


def _plan(connection: BaseDatabaseWrapper) -> tuple[str, list[Columns[Any]]]:
    plan = _PLANS.get(connection.alias)
    if plan is None:
        link = Columns(CampaignMessage, "l", connection, ("message", "campaign", "version", "purpose", "recipient"))
        contact = Columns(
            Contact, "c", connection, ("id", "email", "email_key", "name", "language", "attributes", "workspace")
        )
        entry = Columns(AutomationEntry, "e", connection, ("data",))
        quote = connection.ops.quote_name

        def table(model: type[Model]) -> str:
            return quote(model._meta.db_table)

        # Only the models' own table and column names. A contact that is gone (erased: the
        # recipient's contact_id set to NULL) or an entry that is not there reads as NULLs.
        sql = (
            f"SELECT {link.sql}, {contact.sql}, {entry.sql} FROM {table(CampaignMessage)} l "  # noqa: S608
            f"JOIN {table(Recipient)} r ON r.id = l.recipient_id "
            f"LEFT JOIN {table(Contact)} c ON c.id = r.contact_id "
            f"LEFT JOIN {table(AutomationEntry)} e ON e.id = r.entry_id "
            f"WHERE l.message_id {one_of(connection)}"
        )
        plan = _PLANS[connection.alias] = (sql, [link, contact, entry])
    return plan


def _links(messages: Iterable[Message]) -> dict[int, _Link]:
    """The batch's links with what rendering reads of their recipients and contacts (one query
    planned once: the ORM's ``select_related`` made three model instances a message, most of
    preparing a batch); their campaigns and versions, a few for a whole batch, are loaded once
    each and shared by the rows."""
    connection = connections[router.db_for_read(CampaignMessage)]
    sql, (link, contact, entry) = _plan(connection)
    first, second = len(link), len(link) + len(contact)  # where each table's columns start in a row
    rows = [
        (
            link.values(row[:first], connection),
            contact.values(row[first:second], connection),
            entry.values(row[second:], connection)[0],
        )
        for row in fetch(connection, sql, [m.pk for m in messages])
    ]
    campaigns = Campaign.objects.select_related("workspace__organization").in_bulk({r[0][1] for r in rows})
    versions = TemplateVersion.objects.in_bulk({r[0][2] for r in rows})
    return {
        message_id: _Link(
            message_id,
            campaigns[campaign_id],
            versions[version_id],
            purpose,
            recipient_id,
            _Contact(*person) if person[0] is not None else None,
            data,
        )
        for (message_id, campaign_id, version_id, purpose, recipient_id), person, data in rows
    }


def context_for(link: _Link) -> dict[str, Any]:
    """The template context of one message: plain data only."""
    campaign, contact = link.campaign, link.contact
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
        "response_url": response_url(link.recipient_id),
        **links_for(contact.id, contact.workspace_id, contact.email_key, contact.email),
        # What triggered an automation invitation (the API call's ``data``, the date reached);
        # empty for everything else, so a template may name it whatever it is used for.
        "trigger": {"data": dict(link.trigger_data or {})},
    }


def _prepare(message: Message, link: _Link | None, sources: dict[int, Source]) -> Prepared:
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
    contact = link.contact
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
