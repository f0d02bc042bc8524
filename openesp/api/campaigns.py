"""Campaigns (scope ``campaigns``): make, read, change, delete, schedule, pause, resume, cancel.

Routes parse and authorise, then call the actions of ``openesp.campaigns`` (``campaigns``,
``editing``). Tenancy as for the audience routes (``api.scope``): ids in the path answer 404
alike for missing and foreign campaigns; ids in a body the workspace does not have (a template,
a list, a segment) are a 422 naming the field. An illegal transition is a 409 naming the state.
Its schedule, its state changes and its timeline are in ``api.campaign_states``; its recipients,
responses and reminders in ``api.campaign_recipients``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from ninja import Field, Router, Schema, Status

from openesp.accounts.access import Actor, require_editor
from openesp.api.auth import ApiKeyAuth, caller
from openesp.api.errors import ERRORS, ErrorOut
from openesp.api.messages import TrackingIn
from openesp.api.params import MAX_ID, MAX_PAGE, Id, PageLimit, one_of
from openesp.api.scope import WORKSPACE_HELP, workspace_of
from openesp.api.senders import SenderIn
from openesp.api.templates import CAMPAIGN_REFUSAL, VersionNumber
from openesp.audience.access import access_segment, lists_named
from openesp.audience.models import Segment
from openesp.campaigns import campaigns as actions
from openesp.campaigns import editing
from openesp.campaigns.access import access_campaign, campaigns_in, template_version_named
from openesp.campaigns.models import Campaign, CampaignStatus, TemplateVersion
from openesp.campaigns.stats import campaign_stats
from openesp.esp.effective import effective_provider
from openesp.lib.errors import InvalidInput

router = Router(auth=ApiKeyAuth("campaigns"), tags=["campaigns"])

CONFLICT = {409: ErrorOut}


class CampaignIn(Schema):
    name: str = Field(max_length=200)
    template_id: Id
    template_version: VersionNumber | None = Field(None, description="omitted: the template's latest version")
    from_: str | SenderIn = Field(
        alias="from", description='a sender you may use (as for POST /api/v1/messages), or {"email", "name"}'
    )
    reply_to: str = ""
    lists: list[Id] = Field(default_factory=list, description="ids of the workspace's lists")
    segment: Id | None = Field(None, description="a segment's id: narrows the lists, or is the audience alone")
    response_url: str = Field(
        "", description="http(s) URL a response redirects to, with the token appended; empty: a thank-you page"
    )
    receipt_template_id: Id | None = Field(None, description="a template mailed to each respondent once")
    receipt_template_version: VersionNumber | None = Field(None, description="omitted: the latest")
    tracking: TrackingIn | None = Field(None, description="open and click tracking; omitted: the workspace's default")
    workspace: Id | None = Field(None, description=WORKSPACE_HELP)


class CampaignPatch(Schema):
    """Only the fields sent change; ``segment`` and ``receipt_template_id`` null remove them."""

    name: str | None = Field(None, max_length=200)
    template_id: Id | None = None
    template_version: VersionNumber | None = None
    from_: str | SenderIn | None = Field(None, alias="from")
    reply_to: str | None = None
    lists: list[Id] | None = None
    segment: Id | None = None
    response_url: str | None = None
    receipt_template_id: Id | None = None
    receipt_template_version: VersionNumber | None = None
    tracking: TrackingIn | None = None


class ProviderOut(Schema):
    kind: str = Field(description="the provider that will carry the campaign's mail: smtp, sendgrid, mailjet, none…")
    reason: str


class ExcludedOut(Schema):
    suppressed: int
    unsubscribed: int
    not_subscribed: int
    erased: int


class StatsOut(Schema):
    audience: int = Field(description="eligible recipients frozen at start, after exclusions")
    excluded: ExcludedOut
    queued: int = Field(description="invitations not sent yet, with those not queued yet (queued in chunks)")
    cancelled: int = Field(description="invitations taken off the queue, or never queued, by a cancel")
    sent: int = Field(description="invitations handed to the provider")
    delivered: int
    bounced: int
    opened: int = Field(description="recipients who opened any mail of the campaign")
    clicked: int
    responded: int
    unsubscribed: int
    complained: int
    reminders_sent: int
    receipts_sent: int
    unconfirmed: int = Field(
        description="reminders and receipts whose worker stopped while sending them: not sent again, "
        "so that nobody gets one twice; whether they arrived is unknown"
    )


class CampaignSummaryOut(Schema):
    id: int
    workspace_id: int
    name: str
    status: str = Field(description=", ".join(CampaignStatus.values))
    template_id: int
    template_version: int
    receipt_template_id: int | None
    receipt_template_version: int | None
    from_: str = Field(alias="from")
    from_name: str
    reply_to: str
    lists: list[int]
    segment: int | None
    response_url: str
    tracking: dict[str, bool] = Field(description='{"opens", "clicks"} as chosen; a key absent: the workspace default')
    send_at: datetime | None = Field(description="when it starts (UTC); null until scheduled")
    time_zone: str = Field(description="the zone send_at was given in")
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class CampaignOut(CampaignSummaryOut):
    effective_provider: ProviderOut
    stats: StatsOut


class CampaignPageOut(Schema):
    items: list[CampaignSummaryOut] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last page")


def summary_out(campaign: Campaign) -> dict[str, Any]:
    version, receipt = campaign.template_version, campaign.receipt_version
    return {
        "id": campaign.pk,
        "workspace_id": campaign.workspace_id,
        "name": campaign.name,
        "status": campaign.status,
        "template_id": version.template_id,
        "template_version": version.number,
        "receipt_template_id": receipt.template_id if receipt else None,
        "receipt_template_version": receipt.number if receipt else None,
        "from": campaign.from_email,
        "from_name": campaign.from_name,
        "reply_to": campaign.reply_to,
        "lists": sorted(x.pk for x in campaign.lists.all()),
        "segment": campaign.segment_id,
        "response_url": campaign.response_url,
        "tracking": dict(campaign.tracking or {}),
        "send_at": campaign.send_at,
        "time_zone": campaign.time_zone,
        "created_at": campaign.created_at,
        "updated_at": campaign.updated_at,
        "started_at": campaign.started_at,
        "finished_at": campaign.finished_at,
    }


def campaign_out(campaign: Campaign) -> dict[str, Any]:
    effective = effective_provider(campaign.created_by, campaign.workspace.organization)
    return {
        **summary_out(campaign),
        "effective_provider": {"kind": effective.kind, "reason": effective.reason},
        "stats": campaign_stats(campaign),
    }


def _sender(given: str | SenderIn) -> tuple[str, str]:
    if isinstance(given, SenderIn):
        return given.email, given.name
    return given, ""


def _version(
    actor: Actor, template_id: int, number: int | None, campaign_workspace: Any, prefix: str
) -> TemplateVersion:
    return template_version_named(
        actor, template_id, number, workspace=campaign_workspace, field=f"{prefix}_id",
        version_field=f"{prefix}_version",
    )  # fmt: skip


def _segment(actor: Actor, segment_id: int, workspace: Any) -> Segment:
    try:
        return access_segment(actor, segment_id, workspace=workspace)
    except Http404:
        raise InvalidInput.one("segment", "the workspace has no segment with this id") from None


@router.post(
    "/campaigns",
    response={201: CampaignOut, **ERRORS},
    by_alias=True,
    summary="Make a draft campaign",
    description="The answer shows the provider that will carry its mail (`effective_provider`), with the "
    "reason, before anything is sent. 422 names each field at fault (`from` when it is not a sender you may "
    "use; `template_id`, `lists`, `segment` when the workspace has no such object).",
)
def create_campaign(request: HttpRequest, payload: CampaignIn) -> Status[dict[str, Any]]:
    c = caller(request)
    workspace = workspace_of(c, payload.workspace)
    require_editor(c.actor, workspace, CAMPAIGN_REFUSAL)
    version = _version(c.actor, payload.template_id, payload.template_version, workspace, "template")
    receipt = None
    if payload.receipt_template_id is not None:
        receipt = _version(
            c.actor, payload.receipt_template_id, payload.receipt_template_version, workspace, "receipt_template"
        )
    lists = lists_named(c.actor, payload.lists, workspace=workspace)
    segment = _segment(c.actor, payload.segment, workspace) if payload.segment is not None else None
    from_email, from_name = _sender(payload.from_)
    campaign = actions.create_campaign(
        workspace,
        c.user,
        name=payload.name,
        template_version=version,
        from_email=from_email,
        from_name=from_name,
        reply_to=payload.reply_to,
        lists=lists,
        segment=segment,
        response_url=payload.response_url,
        receipt_version=receipt,
        tracking=payload.tracking.dict(exclude_none=True) if payload.tracking else None,
    )
    return Status(201, campaign_out(access_campaign(c.actor, campaign.pk)))


def _page(campaigns: QuerySet[Campaign], limit: int, cursor: str | None) -> dict[str, Any]:
    if cursor:
        if not (cursor.isascii() and cursor.isdigit()) or int(cursor) > MAX_ID:
            raise InvalidInput.one("cursor", "is not a cursor this API gave out")
        campaigns = campaigns.filter(id__lt=int(cursor))
    page = list(campaigns.select_related("template_version", "receipt_version").prefetch_related("lists")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {"items": [summary_out(x) for x in page], "next_cursor": str(page[-1].pk) if more else None}


@router.get(
    "/campaigns",
    response={200: CampaignPageOut, **ERRORS},
    by_alias=True,
    summary="A workspace's campaigns, newest first, a page at a time",
    description=f"Filter `status`. Pages hold `limit` campaigns (default 50, at most {MAX_PAGE}); follow "
    "`next_cursor` until it is null. GET /campaigns/{id} adds the numbers (`stats`).",
)
def list_campaigns(
    request: HttpRequest,
    workspace: Id | None = None,
    status: Annotated[str | None, Field(json_schema_extra=one_of(CampaignStatus.values))] = None,
    limit: PageLimit = 50,
    # Checked below, to answer with the reason; stated here for clients.
    cursor: Annotated[str | None, Field(json_schema_extra={"pattern": "^[0-9]{0,19}$"})] = None,
) -> dict[str, Any]:
    c = caller(request)
    campaigns = campaigns_in(c.actor, workspace_of(c, workspace))
    if status is not None:
        if status not in CampaignStatus.values:
            raise InvalidInput.one("status", f"must be one of {', '.join(CampaignStatus.values)}")
        campaigns = campaigns.filter(status=status)
    return _page(campaigns, limit, cursor)


@router.get(
    "/campaigns/{campaign_id}",
    response={200: CampaignOut, **ERRORS},
    by_alias=True,
    summary="A campaign: its status, its effective provider and its numbers (stats)",
)
def get_campaign(request: HttpRequest, campaign_id: Id) -> dict[str, Any]:
    return campaign_out(access_campaign(caller(request).actor, campaign_id))


@router.patch(
    "/campaigns/{campaign_id}",
    response={200: CampaignOut, **CONFLICT, **ERRORS},
    by_alias=True,
    summary="Change a draft or scheduled campaign: only the fields sent",
    description="409 once it is sending, paused, sent or cancelled. 422 as for POST.",
)
def update_campaign(request: HttpRequest, campaign_id: Id, payload: CampaignPatch) -> dict[str, Any]:
    c = caller(request)
    campaign = access_campaign(c.actor, campaign_id)
    workspace = campaign.workspace
    require_editor(c.actor, workspace, CAMPAIGN_REFUSAL)
    given = payload.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {}
    for field in ("name", "reply_to", "response_url"):
        if given.get(field) is not None:
            changes[field] = given[field]
    if payload.tracking is not None:
        changes["tracking"] = payload.tracking.dict(exclude_none=True)
    if "template_id" in given or "template_version" in given:
        template_id = payload.template_id or campaign.template_version.template_id
        changes["template_version"] = _version(c.actor, template_id, payload.template_version, workspace, "template")
    if "receipt_template_id" in given or "receipt_template_version" in given:
        receipt_id = payload.receipt_template_id
        if receipt_id is None and "receipt_template_id" not in given and campaign.receipt_version is not None:
            receipt_id = campaign.receipt_version.template_id
        changes["receipt_version"] = (
            _version(c.actor, receipt_id, payload.receipt_template_version, workspace, "receipt_template")
            if receipt_id is not None
            else None
        )
    if payload.from_ is not None:
        changes["from_email"], changes["from_name"] = _sender(payload.from_)
    if payload.lists is not None:
        changes["lists"] = lists_named(c.actor, payload.lists, workspace=workspace)
    if "segment" in given:
        changes["segment"] = _segment(c.actor, payload.segment, workspace) if payload.segment is not None else None
    editing.update_campaign(campaign, c.user, **changes)
    return campaign_out(access_campaign(c.actor, campaign.pk))


@router.delete(
    "/campaigns/{campaign_id}",
    response={204: None, **CONFLICT, **ERRORS},
    summary="Delete a draft, or a campaign that is over (sent or cancelled)",
    description="Its recipients, responses and reminders go with it; its messages stay in the message log "
    "(any still queued, a late receipt or reminder, are cancelled). 409 while scheduled, sending or paused: "
    "cancel it first.",
)
def delete_campaign(request: HttpRequest, campaign_id: Id) -> Status[None]:
    c = caller(request)
    campaign = access_campaign(c.actor, campaign_id)
    require_editor(c.actor, campaign.workspace, CAMPAIGN_REFUSAL)
    editing.delete_campaign(campaign)
    return Status(204, None)
