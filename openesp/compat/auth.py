"""The caller of a compatible endpoint: an openesp API key with the ``messages.send`` scope.

SendGrid's clients send ``Authorization: Bearer <key>``; Mailjet's send HTTP Basic with the
public key as user and the secret as password. openesp has one key per credential, so the
password is the openesp key and the user is ``apikey`` (as SendGrid's SMTP) or the key's public
part (``oe_<prefix>`` or just the prefix), which must then be that key's. Wrong keys count
against the client's address with the API's own limiter (``accounts.limits``) and are refused
before the key is looked at once the client is over it, as ``api.auth`` does.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from django.http import HttpRequest

from openesp.accounts import apikeys, limits
from openesp.accounts.access import Actor, NotAllowed, require_editor
from openesp.accounts.models import ApiKey, User, Workspace
from openesp.lib.clientaddr import client_address
from openesp.messaging.access import SEND_REFUSAL

SCOPE = "messages.send"
TOO_MANY = "too many failed API-key authentications from your address; try again later"


class AuthFailed(Exception):
    """No key, or a key that is malformed, unknown or revoked (401)."""


class Refused(Exception):
    """A valid key that may not send: a missing scope, or a viewer of its workspace (403)."""


class TooMany(Exception):
    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, int(-(-retry_after // 1)))
        super().__init__(TOO_MANY)


@dataclass(frozen=True)
class Sender:
    """Who sends: the key, its user, and where the mail belongs (a workspace key's workspace)."""

    key: ApiKey

    @property
    def user(self) -> User:
        return self.key.user

    @property
    def workspace(self) -> Workspace | None:
        return self.key.workspace

    @property
    def actor(self) -> Actor:
        bound = self.key.workspace.organization_id if self.key.workspace is not None else None
        return Actor(self.key.user, bound)

    @property
    def owner(self) -> str:
        """Whose idempotency keys these are: the same owner as the native API's."""
        return f"apikey:{self.key.pk}"


def _credentials(request: HttpRequest) -> tuple[str, str] | None:
    """(user, key) from a Bearer or Basic Authorization header; None when there is none."""
    header = request.headers.get("Authorization", "")
    scheme, _sep, value = header.partition(" ")
    if not header:
        return None
    if scheme.lower() == "bearer":
        return "apikey", value.strip()
    if scheme.lower() == "basic":
        try:
            user, _colon, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return "", ""
        return user, password
    return "", ""


def _user_names_key(user: str, key: ApiKey) -> bool:
    return user in ("apikey", key.prefix, f"oe_{key.prefix}")


def authenticate(request: HttpRequest) -> Sender:
    """The sender behind the request's key; AuthFailed, Refused or TooMany otherwise."""
    credentials = _credentials(request)
    if credentials is None:
        raise AuthFailed("send the openesp API key as 'Authorization: Bearer <key>' (or HTTP Basic)")
    client = client_address(request)
    # A client that sent too many wrong keys is refused before its key is looked at.
    wait = limits.api_key_blocked(client)
    if wait:
        raise TooMany(wait)
    user, raw = credentials
    key = apikeys.authenticate(raw) if raw else None
    if key is None or not _user_names_key(user, key):
        wait = limits.api_key_failed(client)
        if wait:
            raise TooMany(wait)
        raise AuthFailed("the API key is invalid or has been revoked")
    if SCOPE not in key.scopes:
        raise Refused(f"this API key lacks the {SCOPE!r} scope")
    sender = Sender(key)
    if key.workspace is not None:
        # A viewer of the workspace may hold a key but not send with it (as POST /api/v1/messages).
        try:
            require_editor(sender.actor, key.workspace, SEND_REFUSAL)
        except NotAllowed as exc:
            raise Refused(str(exc)) from None
    return sender
