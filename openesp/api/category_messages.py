"""Category messages (scope ``campaigns``): a one-off mail to every contact subscribed to a
category of the preference centre, sent now or at a local time in a named IANA zone.

Tenancy as for the automations (``api.automations``): ids in the path answer 404 alike for
missing and foreign ones; ids in a body the workspace does not have are a 422 naming the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from openesp.api.auth import ApiKeyAuth, caller
from openesp.api.automations import conflicts
from openesp.api.errors import ERRORS, ErrorOut
from openesp.api.params import Id
from openesp.api.scope import WORKSPACE_HELP, may_change, workspace_of
from openesp.api.senders import SenderIn, SenderOut, sender_of
from openesp.audience.access import categories_named
from openesp.campaigns import category_messages as actions
from openesp.campaigns.access import access_category_message, template_version_named
from openesp.campaigns.models import CategoryMessage

router = Router(auth=ApiKeyAuth("campaigns"), tags=["category messages"])


class CategoryMessageIn(Schema):
    category_id: Id
    template_id: Id
    template_version: Id | None = Field(None, description="default: the template's latest version, pinned")
    from_: str | SenderIn = Field(alias="from", description='an address, or {"email", "name"}')
    reply_to: str = ""
    name: str = Field("", description="shown as campaign.name in the template; default: the category's name")
    send_at: datetime | None = Field(None, description="a local date and time, e.g. 2026-12-24T09:00; none: now")
    time_zone: str = Field("", description="the IANA zone of send_at, e.g. Europe/Stockholm")
    workspace: Id | None = Field(None, description=WORKSPACE_HELP)


class CategoryMessageStatsOut(Schema):
    audience: int = Field(description="recipients: subscribers of the category left after exclusions")
    excluded_suppressed: int
    excluded_unsubscribed: int
    queued: int
    sent: int
    failed: int
    cancelled: int


class CategoryMessageOut(Schema):
    id: int
    workspace_id: int
    category_id: int | None = Field(description="null once the category is deleted")
    category_name: str
    name: str
    template_id: int
    template_version: int
    from_: SenderOut = Field(alias="from")
    reply_to: str
    status: str = Field(description="scheduled, sending, sent or cancelled")
    send_at: datetime | None
    time_zone: str
    stats: CategoryMessageStatsOut
    created_at: datetime


def category_message_out(message: CategoryMessage) -> dict[str, Any]:
    container = message.campaign
    return {
        "id": message.pk,
        "workspace_id": message.workspace_id,
        "category_id": message.topic_id,
        "category_name": message.topic_name,
        "name": container.name,
        "template_id": container.template_version.template_id,
        "template_version": container.template_version.number,
        "from": {"email": container.from_email, "name": container.from_name},
        "reply_to": container.reply_to,
        "status": container.status,
        "send_at": container.send_at,
        "time_zone": container.time_zone,
        "stats": actions.category_message_stats(message),
        "created_at": message.created_at,
    }


@router.post(
    "/category-messages",
    response={201: CategoryMessageOut, **ERRORS},
    by_alias=True,
    summary="Send a mail to every contact subscribed to a category, now or at a local time",
    description="Without `send_at` the mail is queued at once (category `category_message`); with it, at that "
    "local time in `time_zone`. Contacts that are unsubscribed, bounced, complained or suppressed are left out "
    "and counted. Each message is rendered from the pinned template version when it is sent.",
)
def create_category_message(request: HttpRequest, payload: CategoryMessageIn) -> Status[dict[str, Any]]:
    c = caller(request)
    workspace = workspace_of(c, payload.workspace)
    may_change(c, workspace)
    (topic,) = categories_named(
        c.actor, [payload.category_id], workspace=workspace, field="category_id",
        reason="the workspace has no category with this id",
    )  # fmt: skip
    version = template_version_named(c.actor, payload.template_id, payload.template_version, workspace=workspace)
    from_email, from_name = sender_of(payload.from_)
    message = actions.create_category_message(
        workspace, c.user, topic=topic, version=version, from_email=from_email or "", from_name=from_name or "",
        reply_to=payload.reply_to, name=payload.name, send_at=payload.send_at, time_zone=payload.time_zone,
    )  # fmt: skip
    return Status(201, category_message_out(access_category_message(c.actor, message.pk)))


@router.get(
    "/category-messages",
    response={200: list[CategoryMessageOut], **ERRORS},
    by_alias=True,
    summary="A workspace's category messages, newest first",
)
def list_category_messages(request: HttpRequest, workspace: Id | None = None) -> list[dict[str, Any]]:
    ws = workspace_of(caller(request), workspace)
    return [category_message_out(m) for m in actions.category_messages_of(ws)]


@router.get(
    "/category-messages/{category_message_id}",
    response={200: CategoryMessageOut, **ERRORS},
    by_alias=True,
    summary="A category message, with its numbers",
)
def get_category_message(request: HttpRequest, category_message_id: Id) -> dict[str, Any]:
    return category_message_out(access_category_message(caller(request).actor, category_message_id))


@router.post(
    "/category-messages/{category_message_id}/cancel",
    response={200: CategoryMessageOut, 409: ErrorOut, **ERRORS},
    by_alias=True,
    summary="Cancel a scheduled category message, or the rest of one being sent",
    description="Nothing of it stays queued; 409 once it is sent or cancelled.",
)
def cancel_category_message(request: HttpRequest, category_message_id: Id) -> dict[str, Any]:
    c = caller(request)
    message = access_category_message(c.actor, category_message_id)
    may_change(c, message.workspace)
    with conflicts():
        actions.cancel_category_message(message)
    return category_message_out(access_category_message(c.actor, message.pk))
