"""What the operator runs: the standard providers and the default provider."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from openesp.lib.env import ConfigError


@dataclass(frozen=True)
class StandardProvider:
    kind: str
    label: str
    region: str
    available: bool
    api_url: str
    sending_domain: str
    provider_host: str


def standard_providers() -> dict[str, StandardProvider]:
    return {
        "sendgrid": StandardProvider(
            kind="sendgrid",
            label="SendGrid",
            region=str(_("USA")),
            available=bool(settings.OPENESP_SENDGRID_API_KEY),
            api_url=settings.OPENESP_SENDGRID_API_URL,
            sending_domain=settings.OPENESP_SENDGRID_SENDING_DOMAIN,
            provider_host="sendgrid.net",
        ),
        "mailjet": StandardProvider(
            kind="mailjet",
            label="Mailjet",
            region=str(_("EU")),
            available=bool(settings.OPENESP_MAILJET_API_KEY and settings.OPENESP_MAILJET_SECRET_KEY),
            api_url=settings.OPENESP_MAILJET_API_URL,
            sending_domain=settings.OPENESP_MAILJET_SENDING_DOMAIN,
            provider_host="mailjet.com",
        ),
    }


def is_available(kind: str) -> bool:
    provider = standard_providers().get(kind)
    return provider is not None and provider.available


@dataclass(frozen=True)
class OperatorRelay:
    """The operator's own SMTP relay, from ``OPENESP_DEFAULT_PROVIDER=smtp://user:pass@host:port``.

    The operator's relay is trusted: it is not subject to the customer SSRF guard.
    """

    host: str
    port: int
    username: str
    password: str
    security: str


@dataclass(frozen=True)
class OperatorDefault:
    kind: str  # "sendgrid", "mailjet", "smtp" or "none"
    relay: OperatorRelay | None = None


def operator_default() -> OperatorDefault:
    raw = settings.OPENESP_DEFAULT_PROVIDER.strip()
    if not raw:
        # No explicit default: the first standard provider the operator configured.
        for kind, provider in standard_providers().items():
            if provider.available:
                return OperatorDefault(kind)
        return OperatorDefault("none")
    if raw in ("sendgrid", "mailjet"):
        return OperatorDefault(raw)
    parts = urlsplit(raw)
    if parts.scheme in ("smtp", "smtps", "smtp+starttls") and parts.hostname:
        # smtp:// uses STARTTLS unless ?security=none|tls says otherwise; smtps:// is implicit TLS.
        security = "tls" if parts.scheme == "smtps" else "starttls"
        for key, _sep, value in (item.partition("=") for item in parts.query.split("&") if item):
            if key == "security":
                if value not in ("starttls", "tls", "none"):
                    raise ConfigError("OPENESP_DEFAULT_PROVIDER: security must be starttls, tls or none")
                security = value
        default_port = 465 if security == "tls" else 587
        relay = OperatorRelay(
            host=parts.hostname,
            port=parts.port or default_port,
            username=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            security=security,
        )
        return OperatorDefault("smtp", relay)
    # Never echo the value: it may hold a password.
    raise ConfigError("OPENESP_DEFAULT_PROVIDER: expected sendgrid, mailjet or smtp://user:pass@host:port")
