"""Choosing a provider: validation and saving of personal and organization ESP configs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from email_validator import EmailNotValidError, validate_email

from openesp.accounts.access import managed_organization_for
from openesp.accounts.models import Organization, User
from openesp.esp.access import organization_config, personal_config
from openesp.esp.consumer import consumer_service
from openesp.esp.models import EspConfig, EspKind, SmtpSecurity
from openesp.esp.providers import registry
from openesp.lib import netguard
from openesp.lib.errors import FieldProblem, InvalidInput

DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)\Z")


@dataclass
class EspInput:
    """A provider choice as typed in a form or sent to the API, before validation.

    ``password`` None means "keep the stored password"; "" means "remove it". ``fallback``
    likewise: None keeps the stored fallback provider, "" removes it.
    """

    kind: str
    host: str = ""
    port: int | None = None
    security: str = ""
    from_email: str = ""
    username: str = ""
    password: str | None = None
    fallback: str | None = None

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> EspInput:
        port = data.get("port")
        return cls(
            kind=str(data.get("kind") or ""),
            host=str(data.get("host") or ""),
            port=port if isinstance(port, int) or port is None else _parse_port(port),
            security=str(data.get("security") or ""),
            from_email=str(data.get("from_email") or ""),
            username=str(data.get("username") or ""),
            password=None if data.get("password") is None else str(data["password"]),
            fallback=None if data.get("fallback") is None else str(data["fallback"]),
        )


class _BadPort(int):
    """A port that could not be read; validation reports it."""


def _parse_port(value: Any) -> int | None:
    text = str(value).strip()
    if not text:
        return None
    if not text.isdigit():
        return _BadPort(-1)
    return int(text)


@dataclass(frozen=True)
class CleanSmtp:
    host: str
    port: int
    security: str
    from_email: str
    username: str
    password: str | None


def _split_host(raw: str) -> tuple[str, int | None, str | None]:
    """Accept ``host``, ``host:port``, ``smtp://host:port`` and ``smtps://host``."""
    text = raw.strip()
    if not text:
        return "", None, None
    scheme_security = None
    if "://" in text:
        parts = urlsplit(text)
        scheme_security = {"smtp": None, "smtps": "tls", "submission": "starttls"}.get(parts.scheme, "bad")
        if scheme_security == "bad":
            raise InvalidInput.one(
                "host", _("unsupported URL scheme %(scheme)s; use smtp:// or smtps://") % {"scheme": repr(parts.scheme)}
            )
        if parts.username or parts.password:
            raise InvalidInput.one("host", _("put the username and password in their own fields, not in the URL"))
        if parts.path not in ("", "/") or parts.query:
            raise InvalidInput.one("host", _("the server URL can only hold a host name and a port"))
        try:
            port = parts.port
        except ValueError:
            raise InvalidInput.one("host", _("the port in the URL is not a number from 1 to 65535")) from None
        return (parts.hostname or ""), port, scheme_security
    if text.count(":") == 1:
        host, _sep, port_text = text.partition(":")
        if not port_text.isdigit():
            raise InvalidInput.one("host", _("the port after ':' must be a number"))
        return host, int(port_text), None
    return text.strip("[]"), None, None


def _valid_hostname(host: str) -> bool:
    try:
        ascii_host = host.rstrip(".").encode("idna").decode().lower()
    except UnicodeError:
        return False
    labels = ascii_host.split(".")
    return 0 < len(ascii_host) <= 253 and all(_LABEL.match(label) for label in labels)


def clean_smtp(data: EspInput, existing: EspConfig | None) -> CleanSmtp:
    problems: list[FieldProblem] = []
    host, url_port, url_security = _split_host(data.host)
    host = host.rstrip(".").lower()

    if isinstance(data.port, _BadPort):
        problems.append(FieldProblem("port", _("must be a number from 1 to 65535")))
        port = None
    else:
        port = data.port
    if port is not None and url_port is not None and port != url_port:
        reason = _("differs from the port %(port)s in the server URL") % {"port": url_port}
        problems.append(FieldProblem("port", reason))
    port = port or url_port

    security = data.security or url_security or ("tls" if port == 465 else "none" if port == 25 else "starttls")
    if security not in SmtpSecurity.values:
        problems.append(FieldProblem("security", _("must be starttls, tls or none")))
    port = port or DEFAULT_PORTS.get(security, 587)

    if not host:
        problems.append(FieldProblem("host", _("enter the SMTP server's host name")))
    else:
        is_ip = netguard.numeric_address(host) is not None
        service = consumer_service(host)
        if service:
            problems.append(
                FieldProblem(
                    "host",
                    _(
                        "%(service)s is a consumer mailbox service and does not allow bulk mail; "
                        "use an SMTP server meant for sending (your organization's, or a provider's)"
                    )
                    % {"service": service},
                )
            )
        elif not is_ip and not _valid_hostname(host):
            problems.append(FieldProblem("host", _("%(host)s is not a valid host name") % {"host": repr(host)}))
        else:
            try:
                netguard.check_host_text(host)
            except netguard.HostRefused as exc:
                problems.append(FieldProblem("host", str(exc)))
    try:
        netguard.check_port(port)
    except netguard.HostRefused as exc:
        problems.append(FieldProblem("port", str(exc)))

    from_email = data.from_email.strip()
    if not from_email:
        problems.append(FieldProblem("from_email", _("enter the address mail will be sent from")))
    else:
        try:
            from_email = validate_email(from_email, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            problems.append(FieldProblem("from_email", str(exc)))

    username = data.username.strip()
    password = data.password
    keeps_password = password is None and existing is not None and existing.has_password
    if keeps_password and existing is not None and existing.host and existing.host != host:
        # Never send a stored password to a host it was not typed in for.
        problems.append(FieldProblem("password", _("enter the password again when you change the host")))
    has_password = bool(password) or keeps_password
    if has_password and not username:
        problems.append(FieldProblem("username", _("enter the username that goes with the password")))
    if username and not has_password:
        problems.append(FieldProblem("password", _("enter the password for this username")))
    if (username or has_password) and security == "none":
        problems.append(
            FieldProblem("security", _("a password is only sent over an encrypted connection; choose STARTTLS or TLS"))
        )
    if len(username) > 254:
        problems.append(FieldProblem("username", _("is longer than 254 characters")))
    if password is not None and len(password) > 1024:
        problems.append(FieldProblem("password", _("is longer than 1024 characters")))

    if problems:
        raise InvalidInput(problems)
    return CleanSmtp(host, port, security, from_email, username, password)


def _check_kind(kind: str) -> None:
    cls = registry.get(kind)
    if cls is None:
        raise InvalidInput.one("kind", _("must be one of %(kinds)s") % {"kinds": ", ".join(registry.kinds())})
    if not registry.usable(kind):
        raise InvalidInput.one("kind", _("%(provider)s is not available on this server") % {"provider": cls.label})


def validate(data: EspInput, existing: EspConfig | None = None) -> CleanSmtp | None:
    """Clean SMTP fields for a customer's server, None for a standard provider; InvalidInput when wrong."""
    _check_kind(data.kind)
    if data.kind == EspKind.SMTP:
        return clean_smtp(data, existing)
    return None


def check_fallback(kind: str, fallback: str) -> None:
    """A fallback is an operator-run provider the operator has set up, other than the primary."""
    if not fallback:
        return
    cls = registry.get(fallback)
    if cls is None or cls.customer_server:
        kinds = ", ".join(c.kind for c in registry.operator_run())
        raise InvalidInput.one("fallback", _("must be one of %(kinds)s, or empty for none") % {"kinds": kinds})
    if not cls.configured():
        raise InvalidInput.one("fallback", _("%(provider)s is not available on this server") % {"provider": cls.label})
    if fallback == kind:
        raise InvalidInput.one("fallback", _("must be another provider than the one it stands in for"))


def _apply(config: EspConfig, data: EspInput, actor: User) -> EspConfig:
    smtp = validate(data, config if config.pk else None)
    fallback = config.fallback_kind if data.fallback is None else data.fallback
    if fallback == data.kind and data.fallback is None:
        fallback = ""  # the stored fallback became the primary itself
    check_fallback(data.kind, fallback)
    config.fallback_kind = fallback
    config.kind = data.kind
    if smtp is None:
        # A standard provider needs no customer fields; do not keep an unused password around.
        config.host, config.port, config.security = "", None, ""
        config.from_email, config.username, config.password_encrypted = "", "", ""
        # Nor a bounce mailbox: it belongs to a custom SMTP server (esp/bouncemailbox.py).
        config.forget_bounce_mailbox()
    else:
        config.host, config.port, config.security = smtp.host, smtp.port, smtp.security
        config.from_email, config.username = smtp.from_email, smtp.username
        if smtp.password is not None:
            config.set_password(smtp.password)
    config.updated_at = timezone.now()
    config.updated_by = actor
    config.save()
    return config


def save_personal_config(user: User, data: EspInput) -> EspConfig:
    with transaction.atomic():
        config = EspConfig.objects.select_for_update().filter(user=user).first() or EspConfig(user=user)
        return _apply(config, data, user)


def clear_personal_config(user: User) -> None:
    EspConfig.objects.filter(user=user).delete()


def save_organization_config(
    actor: User, organization_id: int, data: EspInput, enforced: bool | None = None
) -> EspConfig:
    """Only owners and admins may change it (NotAllowed); outsiders get Http404."""
    membership = managed_organization_for(actor, organization_id)
    organization: Organization = membership.organization
    with transaction.atomic():
        config = EspConfig.objects.select_for_update().filter(organization=organization).first() or EspConfig(
            organization=organization
        )
        if enforced is not None:
            config.enforced = enforced
        return _apply(config, data, actor)


def set_organization_enforced(actor: User, organization_id: int, enforced: bool) -> EspConfig:
    membership = managed_organization_for(actor, organization_id)
    config = organization_config(membership.organization)
    if config is None:
        raise InvalidInput.one("enforced", _("choose the organization's provider before enforcing it"))
    config.enforced = enforced
    config.updated_at = timezone.now()
    config.updated_by = actor
    config.save(update_fields=["enforced", "updated_at", "updated_by"])
    return config


def clear_organization_config(actor: User, organization_id: int) -> None:
    membership = managed_organization_for(actor, organization_id)
    EspConfig.objects.filter(organization=membership.organization).delete()


def set_fallback(actor: User, fallback: str, organization_id: int | None = None) -> EspConfig:
    """Set (or with "" remove) the fallback of the personal config, or of an organization's
    (owners and admins only: NotAllowed; outsiders get Http404)."""
    if organization_id is None:
        config = personal_config(actor)
    else:
        membership = managed_organization_for(actor, organization_id)
        config = organization_config(membership.organization)
    if config is None:
        raise InvalidInput.one("fallback", _("choose a provider before its fallback"))
    check_fallback(config.kind, fallback)
    config.fallback_kind = fallback
    config.updated_at = timezone.now()
    config.updated_by = actor
    config.save(update_fields=["fallback_kind", "updated_at", "updated_by"])
    return config
