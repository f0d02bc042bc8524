"""Outsider rows for the webhook endpoint pages and the sending-domain pages of a workspace."""

from __future__ import annotations

from typing import Any

from openesp.accounts.models import Organization, User, Workspace
from openesp.delivery.domains import add_dkim_key
from openesp.hooksout.endpoints import create_endpoint
from openesp.messaging.senders import add_sending_domain

TABLE = {
    "ws-webhooks": (["ws"], ("get", "post")),
    "ws-webhook": (["ws", "endpoint"], ("get", "post")),
    "ws-webhook-test": (["ws", "endpoint"], ("post",)),
    "ws-webhook-delete": (["ws", "endpoint"], ("post",)),
    "ws-domains": (["ws"], ("get",)),
    "ws-tracking": (["ws"], ("get", "post")),
    "ws-domain": (["ws", "domain"], ("get",)),
}


def make(alice: User, org: Organization, workspace: Workspace) -> dict[str, Any]:
    endpoint, _secret = create_endpoint(workspace, "https://hooks.acme.example/in", ["message.sent"])
    domain = add_sending_domain("acme-mail.example", workspace)
    add_dkim_key(domain)
    return {"endpoint": endpoint.pk, "domain": domain.pk}
