"""Bearer-key authentication, scopes, and the caller's reach.

A personal key acts as its user. A workspace key acts as its user too, but only inside the
organization of its workspace: any other organization, and the user's personal settings, are
out of its reach, and objects beyond it answer 404 exactly as they would for a stranger.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from ninja.security import HttpBearer

from openesp.accounts import apikeys, limits
from openesp.accounts.access import Actor, access_workspace
from openesp.accounts.models import SCOPES, ApiKey, User, Workspace
from openesp.lib.clientaddr import client_address
from openesp.lib.errors import Throttled

TOO_MANY = "too many failed API-key authentications from your address; try again later"


class Unauthorized(Exception):
    """No key, or a key that is malformed, unknown or revoked."""


class Forbidden(Exception):
    """The key is valid but may not do this (a missing scope, or a personal-only route)."""


@dataclass(frozen=True)
class Caller:
    key: ApiKey

    @property
    def user(self) -> User:
        return self.key.user

    @property
    def bound_organization_id(self) -> int | None:
        """The organization a workspace key is confined to; None for a personal key."""
        return self.key.workspace.organization_id if self.key.workspace is not None else None

    @property
    def actor(self) -> Actor:
        """Who acts, for the access layer: the key's user, confined as the key is."""
        return Actor(self.user, self.bound_organization_id)

    def reach(self, organization_id: int) -> int:
        """Pass ``organization_id`` through when this key may act in it; Http404 otherwise."""
        return self.actor.reach(organization_id)

    def require_personal(self) -> None:
        if self.key.workspace_id is not None:
            raise Forbidden("this needs a personal API key; a workspace key cannot use it")


class ApiKeyAuth(HttpBearer):
    """``Authorization: Bearer oe_…``; with a scope, keys lacking it get 403."""

    def __init__(self, scope: str | None = None) -> None:
        assert scope is None or scope in SCOPES, scope
        self.scope = scope
        super().__init__()

    def __call__(self, request: HttpRequest) -> ApiKey | None:
        header = request.headers.get(self.header, "")
        client = client_address(request)
        if header:
            # A client that sent too many wrong keys is refused before its key is looked at:
            # were a right key still answered 200, the 429s would not slow the guessing down.
            wait = limits.api_key_blocked(client)
            if wait:
                raise Throttled(TOO_MANY, wait)
        key = super().__call__(request)
        if key is None:
            # Say why in the 401 body; ninja would only say "Unauthorized".
            if not header:
                raise Unauthorized("send the API key as 'Authorization: Bearer <key>'")
            wait = limits.api_key_failed(client)
            if wait:
                raise Throttled(TOO_MANY, wait)
            raise Unauthorized("the API key is invalid or has been revoked")
        return key  # type: ignore[no-any-return]

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        key = apikeys.authenticate(token)
        if key is None:
            return None
        if self.scope is not None and self.scope not in key.scopes:
            raise Forbidden(f"this API key lacks the {self.scope!r} scope")
        return key


def caller(request: HttpRequest) -> Caller:
    key = request.auth  # type: ignore[attr-defined]
    assert isinstance(key, ApiKey)
    return Caller(key)


def reach_workspace(c: Caller, workspace_id: int) -> Workspace:
    """A workspace the caller can use, inside what their key may reach; 404 otherwise."""
    return access_workspace(c.actor, workspace_id)
