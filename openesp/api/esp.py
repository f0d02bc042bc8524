"""Provider choice: personal and organization configs, the effective provider, test connection,
and what customers need to allow-list us (egress IPs, standard providers)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from django.conf import settings
from django.http import Http404, HttpRequest
from ninja import Field, Router, Schema, Status

from openesp.accounts.access import managed_organization_for, organization_for
from openesp.accounts.models import Organization
from openesp.api.auth import ApiKeyAuth, Caller, caller
from openesp.api.errors import ERRORS
from openesp.api.params import Id, one_of
from openesp.esp import actions, bouncemailbox
from openesp.esp.access import access_managed_config, organization_config, personal_config
from openesp.esp.bouncemailbox import MailboxInput
from openesp.esp.effective import effective_provider
from openesp.esp.models import EspConfig
from openesp.esp.operator import standard_providers
from openesp.esp.providers import registry
from openesp.lib.errors import InvalidInput

router = Router(auth=ApiKeyAuth("esp"), tags=["email provider"])

_KIND = "a standard provider's kind (run by the operator; see /esp/egress-ips), or smtp (your own server)"
_FALLBACK = (
    "a standard provider that carries your mail while yours cannot be reached (failover); "
    'omitted or null keeps the stored one, "" removes it'
)
_PASSWORD = 'write-only: omitted or null keeps the stored password, "" removes it'


class EspIn(Schema):
    """An ESP config. host, port, security, from_email, username and password are for smtp only."""

    kind: str = Field(
        description=_KIND, examples=["smtp"], json_schema_extra=one_of([provider.kind for provider in registry])
    )
    host: str | None = Field(
        None, description="host name, or a URL such as smtp://host:587", examples=["smtp.example.com"]
    )
    # The bounds are checked with the other fields (esp.actions.validate); stated here for clients.
    port: int | None = Field(None, examples=[587], json_schema_extra={"minimum": 1, "maximum": 65535})
    security: Literal["starttls", "tls", "none"] | None = Field(None, description="default: from the port")
    from_email: str | None = Field(None, examples=["news@example.com"])
    username: str | None = None
    password: str | None = Field(None, description=_PASSWORD)
    fallback: str | None = Field(None, description=_FALLBACK, examples=["mailjet"])

    def to_input(self) -> actions.EspInput:
        return actions.EspInput(
            kind=self.kind,
            host=self.host or "",
            port=self.port,
            security=self.security or "",
            from_email=self.from_email or "",
            username=self.username or "",
            password=self.password,
            fallback=self.fallback,
        )


class OrgEspIn(EspIn):
    enforced: bool | None = Field(None, description="enforce over members' personal choices; omitted keeps it")


class EspOut(Schema):
    id: int
    kind: str
    host: str | None
    port: int | None
    security: str | None
    from_email: str | None
    username: str | None
    password: Literal["set", "not set"]
    fallback: str | None = Field(description="the failover provider's kind, or null")
    updated_at: datetime


class OrgEspOut(EspOut):
    organization_id: int
    enforced: bool


def _out(config: EspConfig) -> dict[str, object]:
    out: dict[str, object] = {
        "id": config.pk,
        "kind": config.kind,
        "host": config.host or None,
        "port": config.port,
        "security": config.security or None,
        "from_email": config.from_email or None,
        "username": config.username or None,
        "password": "set" if config.has_password else "not set",
        "fallback": config.fallback_kind or None,
        "updated_at": config.updated_at,
    }
    if config.organization_id is not None:
        out.update(organization_id=config.organization_id, enforced=config.enforced)
    return out


# --- personal ---------------------------------------------------------------------------------


def _personal(c: Caller) -> EspConfig:
    c.require_personal()
    config = personal_config(c.user)
    if config is None:
        raise Http404("no personal provider is set")
    return config


@router.get(
    "/esp/personal",
    response={200: EspOut, **ERRORS},
    summary="Your personal provider",
    description="404 with detail 'no personal provider is set' when you have not chosen one "
    "(your mail then goes through your organization's or the server's default provider).",
)
def get_personal(request: HttpRequest) -> dict[str, object]:
    return _out(_personal(caller(request)))


@router.put("/esp/personal", response={200: EspOut, **ERRORS}, summary="Choose your personal provider")
def put_personal(request: HttpRequest, payload: EspIn) -> dict[str, object]:
    c = caller(request)
    c.require_personal()
    return _out(actions.save_personal_config(c.user, payload.to_input()))


@router.delete("/esp/personal", response={204: None, **ERRORS}, summary="Remove your personal provider")
def delete_personal(request: HttpRequest) -> Status[None]:
    c = caller(request)
    c.require_personal()
    actions.clear_personal_config(c.user)
    return Status(204, None)


# --- organization -----------------------------------------------------------------------------


@router.get(
    "/organizations/{organization_id}/esp",
    response={200: OrgEspOut, **ERRORS},
    summary="The organization's provider",
    description="Any member may read it. 404 with detail 'no provider is set for this organization' "
    "when none is chosen.",
)
def get_org_esp(request: HttpRequest, organization_id: Id) -> dict[str, object]:
    c = caller(request)
    organization = organization_for(c.user, c.reach(organization_id))
    config = organization_config(organization)
    if config is None:
        raise Http404("no provider is set for this organization")
    return _out(config)


@router.put(
    "/organizations/{organization_id}/esp",
    response={200: OrgEspOut, **ERRORS},
    summary="Choose the organization's provider (owners and admins)",
)
def put_org_esp(request: HttpRequest, organization_id: Id, payload: OrgEspIn) -> dict[str, object]:
    c = caller(request)
    config = actions.save_organization_config(
        c.user, c.reach(organization_id), payload.to_input(), enforced=payload.enforced
    )
    return _out(config)


@router.delete(
    "/organizations/{organization_id}/esp",
    response={204: None, **ERRORS},
    summary="Remove the organization's provider (owners and admins)",
)
def delete_org_esp(request: HttpRequest, organization_id: Id) -> Status[None]:
    c = caller(request)
    actions.clear_organization_config(c.user, c.reach(organization_id))
    return Status(204, None)


# --- effective --------------------------------------------------------------------------------


class EffectiveOut(Schema):
    kind: str = Field(description="sendgrid, mailjet, smtp, or none when nothing is configured anywhere")
    config_id: int | None
    owner: Literal["user", "organization", "operator"]
    reason: str
    organization_id: int | None


@router.get(
    "/esp/effective",
    response={200: EffectiveOut, **ERRORS},
    summary="The provider that carries your mail, and why",
    description="With ?organization=<id>, for mail sent on your behalf in that organization. "
    "A workspace key answers for its organization when none is named.",
)
def get_effective(request: HttpRequest, organization: Id | None = None) -> dict[str, object]:
    c = caller(request)
    organization_id = organization if organization is not None else c.bound_organization_id
    org: Organization | None = None
    if organization_id is not None:
        org = organization_for(c.user, c.reach(organization_id))
    result = effective_provider(c.user, org)
    return {
        "kind": result.kind,
        "config_id": result.config_id,
        "owner": result.owner,
        "reason": result.reason,
        "organization_id": org.pk if org is not None else None,
    }


# --- test connection --------------------------------------------------------------------------


class TestIn(EspIn):
    """Either a config (as for PUT) or ``{"config_id": id}`` for a saved one."""

    kind: str | None = Field(None, description=_KIND + "; omit when config_id is given")  # type: ignore[assignment]
    config_id: Id | None = Field(None, description="test a saved config instead of one in the body")
    organization: Id | None = Field(
        None, description="use this organization's stored password when password is omitted"
    )


class TestOut(Schema):
    ok: bool
    step: str
    detail: str


@router.post(
    "/esp/test",
    response={200: TestOut, **ERRORS},
    summary="Test a provider: connect, authenticate and send a test mail to yourself",
    description="`ok` false names the `step` that failed (resolve, connect, tls, ehlo, auth, sender, "
    "recipient, data; credentials or send for the standard providers) and the server's reply in "
    "`detail`; `ok` true has step `done`. Invalid fields in a body config are a 422, as for PUT.",
)
def post_test(request: HttpRequest, payload: TestIn) -> dict[str, object]:
    c = caller(request)
    saved: EspConfig | None = None
    existing: EspConfig | None = None
    if payload.config_id is not None:
        if payload.kind is not None or payload.organization is not None:
            raise InvalidInput.one("config_id", "send either config_id or a config, not both")
        # Your personal config, or that of an organization you own or administer; anything else
        # is 404 (members of the organization get 403, as for changing it).
        saved = access_managed_config(c.actor, payload.config_id)
    elif not payload.kind:
        raise InvalidInput.one("kind", "send a config (kind, host, …) or a config_id")
    elif payload.organization is not None:
        membership = managed_organization_for(c.user, c.reach(payload.organization))
        existing = organization_config(membership.organization)
    else:
        c.require_personal()
        existing = personal_config(c.user)

    # Imported here, after authorisation: the network code loads only when a test runs.
    from openesp.esp import testconn

    if saved is not None:
        result = testconn.test_saved_config(saved, to_email=c.user.email)
    else:
        data = payload.to_input()
        # Bad fields are a 422 with field and reason, as for PUT, rather than a failed "validate" step.
        actions.validate(data, existing)
        result = testconn.test_config(data, to_email=c.user.email, existing=existing)
    return {"ok": result.ok, "step": result.step, "detail": result.detail}


# --- bounce mailbox (IMAP) of a custom SMTP server -------------------------------------------

_IMAP_PASSWORD = "write-only: omitted or null keeps the stored password (not when the host changes)"


class BounceMailboxIn(Schema):
    """The IMAP mailbox bounces of a custom SMTP server are fetched from (smtp configs only)."""

    host: str = Field(examples=["imap.example.com"])
    port: int | None = Field(
        None, description="default: 993 for tls, 143 for starttls", json_schema_extra={"minimum": 1, "maximum": 65535}
    )
    security: Literal["tls", "starttls"] | None = Field(None, description="default: tls (starttls for port 143)")
    username: str
    password: str | None = Field(None, description=_IMAP_PASSWORD)
    folder: str | None = Field(None, description="default: INBOX")
    enabled: bool = True

    def to_input(self) -> MailboxInput:
        return MailboxInput(
            host=self.host,
            port=self.port,
            security=self.security or "",
            username=self.username,
            password=self.password,
            folder=self.folder or "",
            enabled=self.enabled,
        )


class BounceMailboxOut(Schema):
    config_id: int
    enabled: bool
    host: str
    port: int | None
    security: str
    username: str
    password: Literal["set", "not set"]
    folder: str
    polled_at: datetime | None = Field(description="the last poll, failed or not")
    last_read: int = Field(description="new messages the last successful poll read")
    last_stored: int = Field(description="bounces and complaints among them")
    error: str | None = Field(description="why the last poll failed; null when it did not")
    error_at: datetime | None


def _mailbox_out(config: EspConfig) -> dict[str, object]:
    if not config.has_bounce_mailbox:
        raise Http404("no bounce mailbox is set")
    return {
        "config_id": config.pk,
        "enabled": config.imap_enabled,
        "host": config.imap_host,
        "port": config.imap_port,
        "security": config.imap_security,
        "username": config.imap_username,
        "password": "set" if config.has_imap_password else "not set",
        "folder": config.imap_folder,
        "polled_at": config.imap_polled_at,
        "last_read": config.imap_last_read,
        "last_stored": config.imap_last_stored,
        "error": config.imap_error or None,
        "error_at": config.imap_error_at,
    }


def _managed_org_config(c: Caller, organization_id: int) -> EspConfig:
    membership = managed_organization_for(c.user, c.reach(organization_id))
    config = organization_config(membership.organization)
    if config is None:
        raise Http404("no provider is set for this organization")
    return config


@router.get("/esp/personal/bounce-mailbox", response={200: BounceMailboxOut, **ERRORS}, summary="Your bounce mailbox")
def get_personal_mailbox(request: HttpRequest) -> dict[str, object]:
    return _mailbox_out(_personal(caller(request)))


@router.put(
    "/esp/personal/bounce-mailbox",
    response={200: BounceMailboxOut, **ERRORS},
    summary="Set the bounce mailbox of your custom SMTP server",
)
def put_personal_mailbox(request: HttpRequest, payload: BounceMailboxIn) -> dict[str, object]:
    c = caller(request)
    config = bouncemailbox.save_bounce_mailbox(c.user, _personal(c), payload.to_input())
    return _mailbox_out(config)


@router.delete("/esp/personal/bounce-mailbox", response={204: None, **ERRORS}, summary="Remove your bounce mailbox")
def delete_personal_mailbox(request: HttpRequest) -> Status[None]:
    c = caller(request)
    bouncemailbox.clear_bounce_mailbox(c.user, _personal(c))
    return Status(204, None)


@router.get(
    "/organizations/{organization_id}/esp/bounce-mailbox",
    response={200: BounceMailboxOut, **ERRORS},
    summary="The organization's bounce mailbox",
    description="Any member may read it.",
)
def get_org_mailbox(request: HttpRequest, organization_id: Id) -> dict[str, object]:
    c = caller(request)
    config = organization_config(organization_for(c.user, c.reach(organization_id)))
    if config is None:
        raise Http404("no provider is set for this organization")
    return _mailbox_out(config)


@router.put(
    "/organizations/{organization_id}/esp/bounce-mailbox",
    response={200: BounceMailboxOut, **ERRORS},
    summary="Set the bounce mailbox of the organization's custom SMTP server (owners and admins)",
)
def put_org_mailbox(request: HttpRequest, organization_id: Id, payload: BounceMailboxIn) -> dict[str, object]:
    c = caller(request)
    config = bouncemailbox.save_bounce_mailbox(c.user, _managed_org_config(c, organization_id), payload.to_input())
    return _mailbox_out(config)


@router.delete(
    "/organizations/{organization_id}/esp/bounce-mailbox",
    response={204: None, **ERRORS},
    summary="Remove the organization's bounce mailbox (owners and admins)",
)
def delete_org_mailbox(request: HttpRequest, organization_id: Id) -> Status[None]:
    c = caller(request)
    bouncemailbox.clear_bounce_mailbox(c.user, _managed_org_config(c, organization_id))
    return Status(204, None)


class MailboxTestIn(Schema):
    config_id: Id = Field(description="the custom SMTP config whose mailbox to test")
    mailbox: BounceMailboxIn | None = Field(None, description="settings to test instead of the saved ones")


@router.post(
    "/esp/bounce-mailbox/test",
    response={200: TestOut, **ERRORS},
    summary="Test a bounce mailbox: connect, log in and open the folder (nothing is read or saved)",
    description="`ok` false names the `step` that failed (validate, resolve, connect, tls, auth, folder).",
)
def post_mailbox_test(request: HttpRequest, payload: MailboxTestIn) -> dict[str, object]:
    c = caller(request)
    config = access_managed_config(c.actor, payload.config_id)
    data = payload.mailbox.to_input() if payload.mailbox is not None else None
    if data is not None:
        bouncemailbox.clean_mailbox(data, config)  # a 422 with field and reason, as for PUT
    result = bouncemailbox.test_bounce_mailbox(config, data, tester_email=c.user.email)
    return {"ok": result.ok, "step": result.step, "detail": result.detail}


# --- allow-list information -------------------------------------------------------------------


class StandardProviderOut(Schema):
    kind: str
    label: str
    region: str
    available: bool
    sending_domain: str | None
    provider_host: str


class EgressOut(Schema):
    egress_ips: list[str] = Field(description="addresses openesp connects to SMTP servers from")
    source_address: str | None = Field(description="the address outbound SMTP binds to, when set")
    providers: list[StandardProviderOut]


@router.get(
    "/esp/egress-ips",
    response={200: EgressOut, **ERRORS},
    summary="What to allow-list: our egress IPs and the standard providers' hosts",
)
def get_egress(request: HttpRequest) -> dict[str, object]:
    return {
        "egress_ips": list(settings.OPENESP_EGRESS_IPS),
        "source_address": settings.OPENESP_SMTP_SOURCE_ADDRESS or None,
        "providers": [
            {
                "kind": p.kind,
                "label": p.label,
                "region": p.region,
                "available": p.available,
                "sending_domain": p.sending_domain or None,
                "provider_host": p.provider_host,
            }
            for p in standard_providers().values()
        ],
    }
