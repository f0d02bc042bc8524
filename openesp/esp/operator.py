"""What the operator runs: the standard providers and the default provider."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from django.conf import settings

from openesp.esp.providers import registry
from openesp.lib.env import ConfigError


@dataclass(frozen=True)
class StandardProvider:
    """An operator-run provider as customers see it: from the registry, with today's settings."""

    kind: str
    label: str
    badge: str
    region: str
    available: bool
    sending_domain: str
    provider_host: str


def standard_providers() -> dict[str, StandardProvider]:
    return {
        cls.kind: StandardProvider(
            kind=cls.kind,
            label=cls.label,
            badge=cls.badge,
            region=str(cls.region),
            available=cls.configured(),
            sending_domain=cls.sending_domain(),
            provider_host=cls.provider_host,
        )
        for cls in registry.operator_run()
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
    kind: str  # an operator-run provider's kind, "smtp" (the relay) or "none"
    relay: OperatorRelay | None = None


def operator_default() -> OperatorDefault:
    raw = settings.OPENESP_DEFAULT_PROVIDER.strip()
    if not raw:
        # No explicit default: the first standard provider the operator configured.
        for kind, provider in standard_providers().items():
            if provider.available:
                return OperatorDefault(kind)
        return OperatorDefault("none")
    if raw in {cls.kind for cls in registry.operator_run()}:
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
    kinds = ", ".join(cls.kind for cls in registry.operator_run())
    raise ConfigError(f"OPENESP_DEFAULT_PROVIDER: expected {kinds} or smtp://user:pass@host:port")
