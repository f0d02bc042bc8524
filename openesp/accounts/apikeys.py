"""API keys: ``oe_<prefix>_<secret>``, shown once, stored as the prefix plus a keyed hash.

They are credentials of a user, so they live in accounts: the API authenticates with them, the
web UI's API keys page and the CLI make, list and revoke them (the faces do not import each other).

The prefix (lowercase letters and digits, so it never holds the ``_`` separator) finds the
row; the HMAC of the whole key, compared in constant time, proves the caller holds the secret.
A stolen table therefore yields neither usable keys nor a way to check guesses offline.
"""

from __future__ import annotations

import re
import secrets
import string
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from openesp.accounts.access import workspace_for, workspaces_for
from openesp.accounts.models import SCOPES, ApiKey, User, Workspace
from openesp.lib.errors import InvalidInput
from openesp.lib.fastread import Columns
from openesp.lib.tokens import hashes_match, token_hash

PURPOSE = "apikey"
PREFIX_LENGTH = 8
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
_KEY = re.compile(rf"^oe_([a-z0-9]{{{PREFIX_LENGTH}}})_([A-Za-z0-9_-]{{43,}})\Z")
# Scopes a workspace key may hold: "account" (managing keys and personal settings) stays with
# the person, so a key handed to an application cannot mint more keys.
PERSONAL_ONLY_SCOPES = frozenset({"account"})
WORKSPACE_SCOPES = tuple(s for s in SCOPES if s not in PERSONAL_ONLY_SCOPES)
LAST_USED_GRANULARITY = timedelta(minutes=1)


def _new_key() -> tuple[str, str]:
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    return prefix, f"oe_{prefix}_{secrets.token_urlsafe(32)}"


def clean_scopes(scopes: list[str] | None, *, workspace: bool) -> list[str]:
    allowed = WORKSPACE_SCOPES if workspace else SCOPES
    if scopes is None:
        return list(allowed)
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise InvalidInput.one("scopes", f"unknown scope {unknown[0]!r}; expected some of {', '.join(SCOPES)}")
    if workspace and PERSONAL_ONLY_SCOPES & set(scopes):
        raise InvalidInput.one("scopes", "the account scope is only for personal keys, not workspace keys")
    if not scopes:
        raise InvalidInput.one("scopes", "name at least one scope")
    # Keep the canonical order and drop repeats.
    return [s for s in SCOPES if s in scopes]


def create_api_key(
    user: User, *, workspace: Workspace | int | None = None, scopes: list[str] | None = None, name: str = ""
) -> tuple[ApiKey, str]:
    """A new key for ``user`` (personal, or bound to a workspace the user can see).

    Returns the row and the key itself; the key is not stored and cannot be shown again.
    A personal key gets every scope when none are named.
    """
    if workspace is not None:
        workspace = workspace_for(user, workspace if isinstance(workspace, int) else workspace.pk)
    name = " ".join(name.split())
    if len(name) > 100:
        raise InvalidInput.one("name", "is longer than 100 characters")
    clean = clean_scopes(scopes, workspace=workspace is not None)
    for _attempt in range(5):
        prefix, key = _new_key()
        try:
            with transaction.atomic():
                row = ApiKey.objects.create(
                    user=user,
                    workspace=workspace,
                    name=name,
                    prefix=prefix,
                    key_hash=token_hash(key, PURPOSE),
                    scopes=clean,
                )
        except IntegrityError:  # a prefix collision: 36**8 makes this rare, so just draw again
            continue
        return row, key
    raise RuntimeError("could not find a free API key prefix")


def authenticate(raw: str) -> ApiKey | None:
    """The live key ``raw`` names, or None (malformed, unknown, wrong secret, revoked, or its
    user can no longer act: inactive, or gone from the key's workspace)."""
    match = _KEY.match(raw.strip())
    if match is None:
        return None
    key = _key_by_prefix(match.group(1))
    # Hash even when no row matched, so the answer takes as long for a guessed prefix.
    supplied = token_hash(raw.strip(), PURPOSE)
    if key is None or not hashes_match(supplied, key.key_hash):
        return None
    if key.revoked_at is not None or not key.user.is_active:
        return None
    if key.workspace_id is not None and not workspaces_for(key.user).filter(pk=key.workspace_id).exists():
        return None
    _touch(key)
    return key


_LOOKUPS: dict[str, tuple[str, Columns[ApiKey], Columns[User], Columns[Workspace]]] = {}


def _key_by_prefix(prefix: str) -> ApiKey | None:
    """The key with this prefix, its user and workspace loaded (as ``select_related`` would),
    by one query planned once per database rather than compiled by the ORM on every request:
    this runs for every API call (docs/benchmarks.md, "Accepting mail over HTTP"). Nothing is
    cached between calls, so a revoked key or a deactivated user is refused at the next one."""
    lookup = _LOOKUPS.get(connection.alias)
    if lookup is None:
        quote = connection.ops.quote_name
        keys, users = Columns(ApiKey, "k", connection), Columns(User, "u", connection)
        workspaces = Columns(Workspace, "w", connection)
        # Only the models' own table and column names: the prefix is the one parameter.
        sql = (
            f"SELECT {keys.sql}, {users.sql}, {workspaces.sql} FROM {quote(ApiKey._meta.db_table)} k "  # noqa: S608
            f"JOIN {quote(User._meta.db_table)} u ON u.id = k.user_id "
            f"LEFT JOIN {quote(Workspace._meta.db_table)} w ON w.id = k.workspace_id WHERE k.prefix = %s"
        )
        lookup = _LOOKUPS[connection.alias] = (sql, keys, users, workspaces)
    sql, keys, users, workspaces = lookup
    with connection.cursor() as cursor:
        cursor.execute(sql, [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    key = keys.instance(row[: len(keys)], connection)
    key.user = users.instance(row[len(keys) : len(keys) + len(users)], connection)
    key.workspace = workspaces.instance(row[len(keys) + len(users) :], connection) if key.workspace_id else None
    return key


def _touch(key: ApiKey) -> None:
    """Record use at most once a minute: a busy key must not write on every request."""
    now = timezone.now()
    stale = now - LAST_USED_GRANULARITY
    if key.last_used_at is not None and key.last_used_at > stale:
        return
    ApiKey.objects.filter(pk=key.pk).filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale)).update(
        last_used_at=now
    )
    key.last_used_at = now


def api_keys_for(user: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user).select_related("workspace").order_by("-created_at", "-id")


def api_key_for(user: User, key_id: int) -> ApiKey:
    try:
        return api_keys_for(user).get(pk=key_id)
    except (ApiKey.DoesNotExist, ValueError, TypeError):
        raise Http404("API key not found") from None


def _revoke(key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def revoke_api_key(user: User, key_id: int) -> ApiKey:
    """Revoke one of the user's keys (Http404 for another user's). Revoking twice is harmless."""
    return _revoke(api_key_for(user, key_id))


def revoke_api_key_by_prefix(prefix: str) -> ApiKey:
    """For the operator's command line, which names keys by their prefix."""
    key = ApiKey.objects.filter(prefix=prefix.strip().removeprefix("oe_").split("_", 1)[0]).first()
    if key is None:
        raise InvalidInput.one("prefix", "no API key has this prefix")
    return _revoke(key)
