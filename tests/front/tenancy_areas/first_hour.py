"""Outsider rows for the pages of the first hour: an API key of alice's, the Send page of a workspace."""

from __future__ import annotations

from typing import Any

from openesp.accounts.apikeys import create_api_key
from openesp.accounts.models import Organization, User, Workspace

TABLE = {
    "api-key-revoke": (["apikey"], ("post",)),
    "ws-send": (["ws"], ("get", "post")),
}


def make(alice: User, org: Organization, workspace: Workspace) -> dict[str, Any]:
    return {"apikey": create_api_key(alice, workspace=workspace)[0].pk}
