"""Putting mail on the queue. Callers run these inside the transaction that makes the change
the mail is about, so the mail exists exactly when the change does."""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from openesp.accounts.models import Organization, User, Workspace
from openesp.messaging.eventlog import add_events
from openesp.messaging.models import (
    DUE_STATUSES,
    AddressHeaders,
    Attachment,
    Event,
    EventType,
    Message,
    MessageBody,
    RawContent,
    Status,
)


def enqueue_message(
    *,
    category: str,
    to_email: str,
    subject: str,
    text_body: str,
    html_body: str = "",
    from_email: str | None = None,
    from_name: str = "",
    to_name: str = "",
    user: User | None = None,
    organization: Organization | None = None,
    workspace: Workspace | None = None,
    headers: Mapping[str, str] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Message:
    with transaction.atomic():
        body = MessageBody.objects.create(text=text_body, html=html_body) if text_body or html_body else None
        message = Message.objects.create(
            category=category,
            to_email=to_email,
            to_name=to_name,
            subject=subject,
            body=body,
            from_email=from_email or settings.OPENESP_SYSTEM_FROM,
            from_name=from_name,
            user=user,
            organization=organization or (workspace.organization if workspace else None),
            workspace=workspace,
            headers=dict(headers or {}),
            metadata=dict(metadata or {}),
        )
        add_events([Event(message=message, type=EventType.QUEUED)])
    return message


def withdraw_messages(*, categories: frozenset[str], metadata: Mapping[str, str], reason: str) -> int:
    """Cancel the messages of these categories whose metadata holds every item of ``metadata``
    and that have not left the queue, each with a ``cancelled`` event giving ``reason``."""
    match = {f"metadata__{key}": value for key, value in metadata.items()}
    candidates = Message.objects.filter(category__in=categories, status__in=DUE_STATUSES, **match)
    withdrawn = 0
    for message in candidates.only("pk"):
        try:
            cancel_message(message, detail=reason)
        except NotCancellable:  # a worker took it meanwhile: it goes out
            continue
        withdrawn += 1
    return withdrawn


class NotCancellable(Exception):
    """The message has left the queue (a worker holds it, or it is sent, bounced, …)."""


def cancel_message(message: Message, *, detail: str = "") -> Message:
    """Take a queued, deferred or scheduled message off the queue, with a ``cancelled`` event.

    One conditional UPDATE: a worker claiming the message at the same moment sets it to
    ``sending`` first or finds it ``cancelled``, never both.
    """
    now = timezone.now()
    with transaction.atomic():
        taken = Message.objects.filter(pk=message.pk, status__in=DUE_STATUSES).update(
            status=Status.CANCELLED, updated_at=now, lease_owner="", lease_until=None
        )
        message.refresh_from_db()
        if not taken:
            if message.status == Status.SENDING:
                raise NotCancellable("the message is being sent and can no longer be cancelled")
            raise NotCancellable(f"the message is {message.status} already and can no longer be cancelled")
        add_events([Event(message=message, type=EventType.CANCELLED, created_at=now, detail=detail)])
    return message


def delete_shared_content(messages: QuerySet[Message]) -> None:
    """Delete the rows ``messages`` share among themselves — the To and Cc headers stored once,
    the bodies, the raw mail of an SMTP submission, the attachments — as they are about to be
    deleted.

    Only copies of one submission share such a row, and a submission is in one workspace and one
    organization, so the messages of a workspace or organization being deleted are the only ones
    that refer to them; left behind, the attachments (and the people in those headers) would
    outlive their workspace. Run inside the transaction that deletes ``messages``: the links to
    the attachments go with the messages, before the commit checks them (Django makes foreign keys
    deferred on SQLite and PostgreSQL alike).
    """
    db = messages.db
    through = Message.attachments.through
    attached = through.objects.filter(message__in=messages).values("attachment_id")
    Attachment.objects.filter(pk__in=attached)._raw_delete(db)
    AddressHeaders.objects.filter(pk__in=messages.values("address_headers_id"))._raw_delete(db)
    RawContent.objects.filter(pk__in=messages.values("raw_content_id"))._raw_delete(db)
    MessageBody.objects.filter(pk__in=messages.values("body_id"))._raw_delete(db)
