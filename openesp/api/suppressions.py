"""Suppressions of a workspace (scope ``contacts``): addresses mail is not sent to.

Tenancy as for every audience route (``api.scope``). The operator's global suppressions are
shown to every workspace and lifted only by the operator (``openesp suppressions``). Viewers read;
they cannot change anything. Every change goes through ``audience.suppressions``, which writes
its audit row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import Http404, HttpRequest
from ninja import Body, Field, Router, Schema, Status

from openesp.api.auth import ApiKeyAuth, Forbidden, caller
from openesp.api.errors import ERRORS, ErrorOut
from openesp.api.params import Id
from openesp.api.scope import WORKSPACE_HELP, may_change, operation_id, workspace_of
from openesp.audience import queries, suppressions
from openesp.audience.models import ConsentSource, Suppression, SuppressionReason
from openesp.audience.suppressions import GlobalSuppression
from openesp.lib.errors import InvalidInput

router = Router(auth=ApiKeyAuth("contacts"), tags=["contacts"])


class SuppressionIn(Schema):
    email: str
    reason: str = Field(SuppressionReason.MANUAL, description=", ".join(SuppressionReason.values))
    workspace: Id | None = Field(None, description=WORKSPACE_HELP)


class SuppressionOut(Schema):
    email: str
    reason: str
    source: str = Field(description="api, admin, import…, or delivery for the delivery engine's own")
    detail: str
    is_global: bool = Field(alias="global", description="suppressed by the operator for all workspaces")
    created_at: datetime


def _suppression_out(s: Suppression) -> dict[str, Any]:
    return {
        "email": s.email,
        "reason": s.reason,
        "source": s.source or ("delivery" if s.source_event_id else "operator" if s.workspace_id is None else ""),
        "detail": s.detail,
        "global": s.workspace_id is None,
        "created_at": s.created_at,
    }


@router.get(
    "/suppressions",
    response={200: list[SuppressionOut], **ERRORS},
    by_alias=True,
    summary="Addresses mail is not sent to: the workspace's and the operator's (global)",
    description="Filter by `email`. At most 1,000, newest first.",
    operation_id=operation_id("list_suppressions"),
)
def list_suppressions(request: HttpRequest, workspace: Id | None = None, email: str | None = None) -> Any:
    ws = workspace_of(caller(request), workspace)
    rows = queries.suppressions_for(ws, email=email or "")
    return [_suppression_out(s) for s in rows[:1000]]


@router.post(
    "/suppressions",
    response={201: SuppressionOut, **ERRORS},
    by_alias=True,
    summary="Suppress an address in the workspace",
    description="Adding an address suppressed already keeps the first reason and answers it.",
    operation_id=operation_id("add_suppression"),
)
def add_suppression(request: HttpRequest, payload: SuppressionIn) -> Status[dict[str, Any]]:
    c = caller(request)
    ws = workspace_of(c, payload.workspace)
    may_change(c, ws)
    suppression = suppressions.add_suppression(
        ws, payload.email, payload.reason, source=ConsentSource.API, detail=f"API key {c.key.prefix}", actor=c.user
    )
    return Status(201, _suppression_out(suppression))


class SuppressionLiftIn(Schema):
    email: str | None = Field(None, description="the address (or give it as ?email=)")
    workspace: Id | None = Field(None, description=WORKSPACE_HELP)


@router.delete(
    "/suppressions",
    response={204: None, 403: ErrorOut, **ERRORS},
    summary="Lift the workspace's suppression of an address",
    description='The address as `?email=` or in a JSON body `{"email"}` (not both). 404 when the '
    "workspace does not suppress it; 403 when only the operator does (global suppressions are lifted by "
    "the operator, never through the API).",
    operation_id=operation_id("remove_suppression"),
)
def remove_suppression(
    request: HttpRequest,
    email: str | None = None,
    workspace: Id | None = None,
    payload: Body[SuppressionLiftIn | None] = None,
) -> Status[None]:
    if payload is not None and payload.email is not None and email is not None:
        raise InvalidInput.one("email", "give it in the query or the body, not both")
    address = email if email is not None else payload.email if payload is not None else None
    if address is None:
        raise InvalidInput.one("email", "is required: in the query (?email=) or the JSON body")
    if workspace is None and payload is not None:
        workspace = payload.workspace
    c = caller(request)
    ws = workspace_of(c, workspace)
    may_change(c, ws)
    try:
        removed = suppressions.remove_suppression(
            ws, address, source=ConsentSource.API, detail=f"API key {c.key.prefix}", actor=c.user
        )
    except GlobalSuppression as exc:
        raise Forbidden(str(exc)) from None
    if not removed:
        raise Http404("the workspace does not suppress this address")
    return Status(204, None)
