"""A campaign's schedule and state changes, and its timeline (scope ``campaigns``).

``schedule`` (a local time in an IANA zone, or now), ``pause``, ``resume`` and ``cancel`` call the
transitions of ``campaigns.campaigns``: each is one conditional UPDATE, and from a state that
does not allow it ``campaigns.errors.Conflict``, answered 409 naming the state. Each answers the
campaign as ``GET /campaigns/{id}`` does, with its new ``status``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from openesp.accounts.access import require_editor
from openesp.api.auth import ApiKeyAuth, caller
from openesp.api.campaigns import CONFLICT, CampaignOut, campaign_out
from openesp.api.errors import ERRORS
from openesp.api.params import Id, one_of
from openesp.api.templates import CAMPAIGN_REFUSAL
from openesp.campaigns import campaigns as actions
from openesp.campaigns.access import access_campaign
from openesp.campaigns.stats import campaign_timeline
from openesp.lib.errors import InvalidInput

router = Router(auth=ApiKeyAuth("campaigns"), tags=["campaigns"])


class PointOut(Schema):
    at: datetime = Field(description="the start of the hour or day")
    sent: int = Field(description="invitations and reminders handed to the provider")
    responded: int


class TimelineOut(Schema):
    unit: str = Field(json_schema_extra=one_of(["hour", "day"]))
    points: list[PointOut] = Field(description="oldest first; only periods with something in them")


class ScheduleIn(Schema):
    send_at: datetime | None = Field(
        None,
        description="a local date and time in time_zone, e.g. 2026-12-24T09:00 (with an offset, that instant)",
        examples=["2026-12-24T09:00"],
    )
    time_zone: str = Field("", max_length=64, description="an IANA zone, e.g. Europe/Stockholm")
    now: bool = Field(False, description="true: start as soon as a worker picks it up")


@router.get(
    "/campaigns/{campaign_id}/timeline",
    response={200: TimelineOut, **ERRORS},
    summary="Sends and responses over time, for a chart",
    description="Per hour, or per day once the campaign spans more than three days.",
)
def timeline(request: HttpRequest, campaign_id: Id) -> dict[str, Any]:
    return campaign_timeline(access_campaign(caller(request).actor, campaign_id))


@router.post(
    "/campaigns/{campaign_id}/schedule",
    response={200: CampaignOut, **CONFLICT, **ERRORS},
    by_alias=True,
    summary="Schedule a draft (or reschedule a scheduled campaign): at a local time, or now",
    description='`{"send_at": "2026-12-24T09:00", "time_zone": "Europe/Stockholm"}` or `{"now": true}`. 422 '
    "for an unknown zone, a local time the clocks skip, a time in the past, or a campaign with no audience; "
    "409 from any other state than draft or scheduled.",
)
def schedule(request: HttpRequest, campaign_id: Id, payload: ScheduleIn) -> dict[str, Any]:
    c = caller(request)
    campaign = access_campaign(c.actor, campaign_id)
    require_editor(c.actor, campaign.workspace, CAMPAIGN_REFUSAL)
    if payload.now and payload.send_at is not None:
        raise InvalidInput.one("now", "give now: true or send_at, not both")
    if not payload.now and payload.send_at is None:
        raise InvalidInput.one("send_at", 'is required (with time_zone), unless you give "now": true')
    actions.schedule_campaign(campaign, send_at=payload.send_at, time_zone=payload.time_zone.strip())
    return campaign_out(campaign)


def _transition(request: HttpRequest, campaign_id: int, action: Any) -> dict[str, Any]:
    c = caller(request)
    campaign = access_campaign(c.actor, campaign_id)
    require_editor(c.actor, campaign.workspace, CAMPAIGN_REFUSAL)
    action(campaign)
    return campaign_out(campaign)


@router.post(
    "/campaigns/{campaign_id}/pause",
    response={200: CampaignOut, **CONFLICT, **ERRORS},
    by_alias=True,
    summary="Pause a scheduled or sending campaign: no more of its mail is taken from the queue",
    description="Mail a worker holds already is sent. 409 from any other state.",
)
def pause(request: HttpRequest, campaign_id: Id) -> dict[str, Any]:
    return _transition(request, campaign_id, actions.pause_campaign)


@router.post(
    "/campaigns/{campaign_id}/resume",
    response={200: CampaignOut, **CONFLICT, **ERRORS},
    by_alias=True,
    summary="Resume a paused campaign: sending again if it had started, else scheduled as before",
    description="409 unless it is paused.",
)
def resume(request: HttpRequest, campaign_id: Id) -> dict[str, Any]:
    return _transition(request, campaign_id, actions.resume_campaign)


@router.post(
    "/campaigns/{campaign_id}/cancel",
    response={200: CampaignOut, **CONFLICT, **ERRORS},
    by_alias=True,
    summary="Cancel a campaign: nothing of it stays queued",
    description="Receipts to people who respond still go out. 409 once it is sent or cancelled.",
)
def cancel(request: HttpRequest, campaign_id: Id) -> dict[str, Any]:
    return _transition(request, campaign_id, actions.cancel_campaign)
