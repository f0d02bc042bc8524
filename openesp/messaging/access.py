"""Looking up messages and sending domains through the caller (``accounts.access``).

A message belongs to a workspace, or to no workspace (mail a user sent personally, and platform
mail). The caller sees the messages of the workspaces it can use and, unless it is confined to
an organization (a workspace API key), its own personal mail. A missing id, a malformed one and
another tenant's object answer the same ``Http404``.
"""

from __future__ import annotations

import uuid

from django.db.models import Q, QuerySet
from django.http import Http404

from openesp.accounts.access import Actor, access_by_id, as_actor
from openesp.accounts.models import User, Workspace
from openesp.messaging.models import Message, SendingDomain

# Why a viewer may not cancel a workspace's mail (``require_editor``).
CANCEL_REFUSAL = "viewers cannot cancel mail in this workspace"
# Why a viewer may not send in a workspace.
SEND_REFUSAL = "viewers cannot send mail in this workspace"


def visible_messages(actor: Actor | User) -> QuerySet[Message]:
    """Messages of the workspaces the actor can use, and its own sent in no workspace; a
    confined actor (a workspace key) sees only its organization's workspaces, never personal
    mail."""
    who = as_actor(actor)
    in_workspaces = Q(workspace__in=who.workspaces().values("id"))
    if who.organization_id is not None:
        return Message.objects.filter(in_workspaces)
    return Message.objects.filter(in_workspaces | Q(workspace__isnull=True, user=who.user))


def workspace_messages(workspace: Workspace) -> QuerySet[Message]:
    """The messages of a workspace the caller has reached (``access_workspace``)."""
    return Message.objects.filter(workspace=workspace)


def access_message(actor: Actor | User, message_id: object, *, workspace: Workspace | None = None) -> Message:
    """The message with this public id (a UUID) that the actor can see; with ``workspace``, only
    in that one. Http404 ("message not found") for a malformed id too."""
    try:
        public_id = message_id if isinstance(message_id, uuid.UUID) else uuid.UUID(str(message_id))
    except ValueError:
        raise Http404("message not found") from None
    messages = visible_messages(actor)
    if workspace is not None:
        messages = messages.filter(workspace=workspace)
    message = messages.filter(public_id=public_id).first()
    if message is None:
        raise Http404("message not found")
    return message


def workspace_sending_domains(workspace: Workspace) -> QuerySet[SendingDomain]:
    """The sending domains of a workspace the caller has reached, by name."""
    return SendingDomain.objects.filter(workspace=workspace).order_by("domain")


def access_sending_domain(actor: Actor | User, domain_id: object) -> SendingDomain:
    """A sending domain of a workspace the actor can use; Http404 ("sending domain not found")
    otherwise. Operator domains (no workspace) are nobody's through this: they are managed with
    ``openesp dkim``."""
    queryset = SendingDomain.objects.select_related("workspace")
    return access_by_id(actor, queryset, domain_id, "sending domain")
