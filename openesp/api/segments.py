"""Segments: saved filters over a workspace's contacts (scope ``contacts``).

The query syntax is documented in docs/segments.md. Ids in the path answer 404 alike for missing
and foreign segments; viewers read and preview, but cannot change anything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from openesp.api.auth import ApiKeyAuth, caller
from openesp.api.contacts import ContactOut, ContactPageOut, contact_out, contact_page
from openesp.api.errors import ERRORS
from openesp.api.params import MAX_PAGE, Id, PageLimit
from openesp.api.scope import WORKSPACE_HELP, may_change, workspace_of
from openesp.audience import queries
from openesp.audience.access import access_segment
from openesp.audience.models import Segment
from openesp.audience.segment_syntax import MAX_QUERY_LENGTH
from openesp.audience.segments import (
    create_segment,
    delete_segment,
    matching_contacts,
    segment_contacts,
    update_segment,
)

router = Router(auth=ApiKeyAuth("contacts"), tags=["segments"])

PREVIEW_SIZE = 10
_QUERY = (
    f"in the segment syntax (docs/segments.md), at most {MAX_QUERY_LENGTH} characters, e.g. "
    '`attributes.country = "SE" and not opened in 90 days`'
)


class SegmentIn(Schema):
    name: str
    query: str = Field(description=_QUERY)
    workspace: Id | None = Field(None, description=WORKSPACE_HELP)


class SegmentPatch(Schema):
    name: str | None = None
    query: str | None = Field(None, description=_QUERY)


class SegmentOut(Schema):
    id: int
    workspace_id: int
    name: str
    query: str
    count: int = Field(description="how many contacts match now")
    created_at: datetime
    updated_at: datetime


class PreviewIn(Schema):
    query: str = Field(description=_QUERY)
    workspace: Id | None = Field(None, description=WORKSPACE_HELP)


class PreviewOut(Schema):
    count: int = Field(description="how many contacts match")
    contacts: list[ContactOut] = Field(description=f"the first {PREVIEW_SIZE}, oldest first")


def _segment_out(segment: Segment) -> dict[str, Any]:
    return {
        "id": segment.pk,
        "workspace_id": segment.workspace_id,
        "name": segment.name,
        "query": segment.query,
        "count": segment_contacts(segment).count(),
        "created_at": segment.created_at,
        "updated_at": segment.updated_at,
    }


@router.post(
    "/segments",
    response={201: SegmentOut, **ERRORS},
    summary="Save a segment",
    description="422 naming `query` (with the column) when the query is not valid, or naming `name` when "
    "the workspace has a segment of that name.",
)
def create(request: HttpRequest, payload: SegmentIn) -> Status[dict[str, Any]]:
    c = caller(request)
    workspace = workspace_of(c, payload.workspace)
    may_change(c, workspace)
    return Status(201, _segment_out(create_segment(workspace, payload.name, payload.query, actor=c.user)))


@router.get("/segments", response={200: list[SegmentOut], **ERRORS}, summary="A workspace's segments, by name")
def list_segments(request: HttpRequest, workspace: Id | None = None) -> list[dict[str, Any]]:
    ws = workspace_of(caller(request), workspace)
    return [_segment_out(s) for s in queries.segments_of(ws)]


@router.post(
    "/segments/preview",
    response={200: PreviewOut, **ERRORS},
    summary="Try a query without saving it: the count and the first contacts",
)
def preview(request: HttpRequest, payload: PreviewIn) -> dict[str, Any]:
    ws = workspace_of(caller(request), payload.workspace)
    contacts = matching_contacts(ws, payload.query)
    first = contacts.prefetch_related("subscriptions").order_by("id")[:PREVIEW_SIZE]
    return {"count": contacts.count(), "contacts": [contact_out(x) for x in first]}


@router.get("/segments/{segment_id}", response={200: SegmentOut, **ERRORS}, summary="A segment, with its count")
def get_segment(request: HttpRequest, segment_id: Id) -> dict[str, Any]:
    return _segment_out(access_segment(caller(request).actor, segment_id))


@router.patch(
    "/segments/{segment_id}",
    response={200: SegmentOut, **ERRORS},
    summary="Rename a segment or change its query: only the fields sent",
)
def patch_segment(request: HttpRequest, segment_id: Id, payload: SegmentPatch) -> dict[str, Any]:
    c = caller(request)
    segment = access_segment(c.actor, segment_id)
    may_change(c, segment.workspace)
    return _segment_out(update_segment(segment, name=payload.name, query=payload.query))


@router.delete("/segments/{segment_id}", response={204: None, **ERRORS}, summary="Delete a segment (not its contacts)")
def remove_segment(request: HttpRequest, segment_id: Id) -> Status[None]:
    c = caller(request)
    segment = access_segment(c.actor, segment_id)
    may_change(c, segment.workspace)
    delete_segment(segment)
    return Status(204, None)


@router.get(
    "/segments/{segment_id}/contacts",
    response={200: ContactPageOut, **ERRORS},
    summary="The contacts in a segment now, a page at a time",
    description=f"Pages hold `limit` contacts (default 50, at most {MAX_PAGE}); follow `next_cursor` until it is null.",
)
def list_segment_contacts(
    request: HttpRequest, segment_id: Id, limit: PageLimit = 50, cursor: str | None = None
) -> dict[str, Any]:
    return contact_page(segment_contacts(access_segment(caller(request).actor, segment_id)), limit, cursor)
