"""A workspace's sending domains and their DKIM keys.

Mail may be sent from any address at a workspace's sending domain, and it is DKIM-signed with
the domain's active keys once the TXT record is published. Any member who can use the
workspace may list them; owners and admins of its organization add and remove them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.db import transaction
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from openesp.accounts.access import managed_organization_for
from openesp.api.auth import ApiKeyAuth, Caller, caller, reach_workspace
from openesp.api.errors import ERRORS
from openesp.api.params import Id
from openesp.delivery.dkim import DkimKey
from openesp.delivery.domains import add_dkim_key, verify_domain
from openesp.delivery.health import domain_health
from openesp.delivery.models import DkimKeyRecord
from openesp.messaging.access import access_sending_domain, workspace_sending_domains
from openesp.messaging.models import SendingDomain
from openesp.messaging.senders import add_sending_domain

# Sending domains are part of choosing how mail goes out, as the provider settings are.
router = Router(auth=ApiKeyAuth("esp"), tags=["sending domains"])


class DomainIn(Schema):
    domain: str = Field(examples=["mail.shop.example"])
    algorithm: Literal["rsa", "ed25519"] = Field("rsa", description="rsa (RSA-2048) or ed25519")
    selector: str = Field("", description="default: oe<year><month>r (rsa) or …e (ed25519)")


class DkimKeyOut(Schema):
    id: int
    selector: str
    algorithm: str
    active: bool
    created_at: datetime
    dns_name: str = Field(
        description="publish a TXT record at this name …", examples=["oe202611r._domainkey.shop.example"]
    )
    dns_type: Literal["TXT"]
    dns_value: str = Field(
        description="… with this value (a long RSA value may need splitting into 255-character strings)"
    )


class DomainOut(Schema):
    id: int
    domain: str
    workspace_id: int
    created_at: datetime
    verified_at: datetime | None = Field(
        description="when a DKIM record was found published; mail may be sent from the domain only after"
    )
    dkim_keys: list[DkimKeyOut]


class VerifyOut(Schema):
    verified: bool
    detail: str = Field(description="what the DNS lookup found, for each active key")


class NewDomainOut(DomainOut):
    dkim_key: DkimKeyOut = Field(description="the key just made: publish its record")


def _key_out(domain: SendingDomain, record: DkimKeyRecord) -> dict[str, Any]:
    key = DkimKey.from_pem(domain.domain, record.selector, record.private_pem())
    return {
        "id": record.pk,
        "selector": record.selector,
        "algorithm": record.algorithm,
        "active": record.active,
        "created_at": record.created_at,
        "dns_name": f"{record.selector}._domainkey.{domain.domain}",
        "dns_type": "TXT",
        "dns_value": key.dns_record(),
    }


def _out(domain: SendingDomain) -> dict[str, Any]:
    return {
        "id": domain.pk,
        "domain": domain.domain,
        "workspace_id": domain.workspace_id,
        "created_at": domain.created_at,
        "verified_at": domain.verified_at,
        "dkim_keys": [_key_out(domain, k) for k in domain.dkim_keys.order_by("created_at", "id")],
    }


@router.get(
    "/workspaces/{workspace_id}/domains",
    response={200: list[DomainOut], **ERRORS},
    summary="The workspace's sending domains and the DNS records of their DKIM keys",
)
def list_domains(request: HttpRequest, workspace_id: Id) -> list[dict[str, Any]]:
    workspace = reach_workspace(caller(request), workspace_id)
    return [_out(d) for d in workspace_sending_domains(workspace)]


@router.post(
    "/workspaces/{workspace_id}/domains",
    response={201: NewDomainOut, **ERRORS},
    summary="Add a sending domain with a new DKIM key (owners and admins)",
    description="Answers the TXT record to publish. Posting a domain the workspace has already "
    "adds another key to it (for rotation: publish the new record, then remove the old key).",
)
def add_domain(request: HttpRequest, workspace_id: Id, payload: DomainIn) -> Status[dict[str, Any]]:
    c = caller(request)
    workspace = reach_workspace(c, workspace_id)
    managed_organization_for(c.user, workspace.organization_id)
    with transaction.atomic():
        # Together: a refused selector leaves no key-less domain behind.
        domain = add_sending_domain(payload.domain, workspace)
        record, _key = add_dkim_key(domain, algorithm=payload.algorithm, selector=payload.selector)
    return Status(201, {**_out(domain), "dkim_key": _key_out(domain, record)})


@router.delete(
    "/domains/{domain_id}",
    response={204: None, **ERRORS},
    summary="Remove a sending domain and its keys (owners and admins)",
    description="Mail from the domain is no longer allowed or signed; queued mail from it is sent unsigned.",
)
def delete_domain(request: HttpRequest, domain_id: Id) -> Status[None]:
    _managed_domain(caller(request), domain_id).delete()
    return Status(204, None)


@router.post(
    "/domains/{domain_id}/verify",
    response={200: VerifyOut, **ERRORS},
    summary="Look up the domain's DKIM records in DNS; verified once one is published (owners and admins)",
    description="A workspace's domain is a sender (`from` of `POST /messages`) only once verified.",
)
def verify(request: HttpRequest, domain_id: Id) -> dict[str, Any]:
    verified, detail = verify_domain(_managed_domain(caller(request), domain_id))
    return {"verified": verified, "detail": detail}


class HealthCheckOut(Schema):
    ok: bool
    expected: str = Field(description="the record(s) to publish, zone-file style (one per line)")
    found: list[str] = Field(description="what DNS answered, in the same style (or why the lookup failed)")


class HealthOut(Schema):
    spf: HealthCheckOut
    dkim: HealthCheckOut
    dmarc: HealthCheckOut
    return_path: HealthCheckOut


@router.get(
    "/domains/{domain_id}/health",
    response={200: HealthOut, **ERRORS},
    summary="Look up the domain's SPF, DKIM, DMARC and return-path records: what to publish and what is found",
)
def health(request: HttpRequest, domain_id: Id) -> dict[str, Any]:
    return domain_health(access_sending_domain(caller(request).actor, domain_id))


def _managed_domain(c: Caller, domain_id: int) -> SendingDomain:
    """A domain of a workspace the caller reaches, managed by an owner/admin; 404 otherwise.

    Operator domains (no workspace) are managed with `openesp dkim`, never through the API.
    """
    domain = access_sending_domain(c.actor, domain_id)
    assert domain.workspace is not None  # access_sending_domain finds workspace domains only
    managed_organization_for(c.user, domain.workspace.organization_id)
    return domain
