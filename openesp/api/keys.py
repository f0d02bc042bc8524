"""``/api/v1/api-keys``: the caller's own keys. The key itself is shown once, on creation."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from openesp.accounts import apikeys
from openesp.accounts.models import SCOPES, ApiKey
from openesp.api.auth import ApiKeyAuth, Forbidden, caller
from openesp.api.errors import ERRORS
from openesp.api.params import Id

# "account" is a personal-only scope, so workspace keys never reach these routes.
router = Router(auth=ApiKeyAuth("account"), tags=["API keys"])


class ApiKeyIn(Schema):
    name: str = ""
    workspace: Id | None = Field(None, description="bind the key to this workspace; omit for a personal key")
    scopes: list[str] | None = Field(
        None,
        description=f"some of {', '.join(SCOPES)}; omitted: the scopes of the key making the request "
        "(without account for a workspace key)",
    )


class ApiKeyOut(Schema):
    id: int
    name: str
    prefix: str
    workspace_id: int | None
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewApiKeyOut(ApiKeyOut):
    key: str = Field(description="the key itself: shown only in this response")


def _out(key: ApiKey) -> dict[str, object]:
    return {
        "id": key.pk,
        "name": key.name,
        "prefix": key.prefix,
        "workspace_id": key.workspace_id,
        "scopes": list(key.scopes),
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
    }


@router.get("/api-keys", response={200: list[ApiKeyOut], **ERRORS}, summary="Your API keys, revoked ones too")
def list_keys(request: HttpRequest) -> list[dict[str, object]]:
    return [_out(k) for k in apikeys.api_keys_for(caller(request).user)]


@router.post("/api-keys", response={201: NewApiKeyOut, **ERRORS}, summary="Create an API key")
def create_key(request: HttpRequest, payload: ApiKeyIn) -> Status[dict[str, object]]:
    c = caller(request)
    held = set(c.key.scopes)
    scopes = payload.scopes
    if scopes is None:
        scopes = [s for s in SCOPES if s in held and (payload.workspace is None or s in apikeys.WORKSPACE_SCOPES)]
    # A key can hand on only what it holds itself.
    beyond = [s for s in scopes if s in SCOPES and s not in held]
    if beyond:
        raise Forbidden(f"this API key cannot grant the {beyond[0]!r} scope, which it lacks")
    key, raw = apikeys.create_api_key(c.user, workspace=payload.workspace, scopes=scopes, name=payload.name)
    return Status(201, {**_out(key), "key": raw})


@router.delete("/api-keys/{key_id}", response={204: None, **ERRORS}, summary="Revoke an API key")
def revoke_key(request: HttpRequest, key_id: Id) -> Status[None]:
    apikeys.revoke_api_key(caller(request).user, key_id)
    return Status(204, None)
