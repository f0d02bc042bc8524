"""Delivery providers, one module each, and the registry that lists them.

Adding a provider: a module with a ``Provider`` subclass that declares its kind, label, badge,
settings and limits and how it is built (``HttpProvider`` for an HTTP API), and one line below.
Everything else (operator settings, effective provider, worker limits, pages, API) iterates
``registry``. See docs/adding-a-provider.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from openesp.esp.providers.base import (
    ConnectionFailed,
    CredentialsRejected,
    HostNotAllowed,
    HttpProvider,
    MessageRejected,
    OutgoingMessage,
    Provider,
    ProviderError,
    ProviderUnavailable,
    SendResult,
    TlsFailed,
    Verdict,
)
from openesp.esp.providers.mailjet import MailjetProvider
from openesp.esp.providers.registry import Registry, registry
from openesp.esp.providers.sendgrid import SendGridProvider
from openesp.esp.providers.smtp import SmtpProvider, SmtpServer, smtp_server_for

if TYPE_CHECKING:
    from openesp.esp.models import EspConfig

# The registry lines: one per provider, in the order the pages show them.
registry.add(SendGridProvider)
registry.add(MailjetProvider)
registry.add(SmtpProvider)


def standard_provider(kind: str) -> Provider:
    """The operator's instance of an operator-run provider, from settings.

    ``ProviderUnavailable`` when no such provider is registered (permanent) or the operator has
    not configured it (temporary: it may be configured later).
    """
    cls = registry.get(kind)
    if cls is None or cls.customer_server:
        raise ProviderUnavailable(f"{kind!r} is not a standard provider", step="validate", verdict=Verdict.PERMANENT)
    if not cls.configured():
        raise ProviderUnavailable(
            f"{cls.label} is not available on this server", step="validate", verdict=Verdict.TEMPORARY
        )
    return cls.from_settings()


def provider_for_config(config: EspConfig) -> Provider:
    cls = registry.get(config.kind)
    if cls is None:
        raise ProviderUnavailable(f"no provider module for {config.kind!r}", step="validate", verdict=Verdict.PERMANENT)
    if not cls.customer_server:
        return standard_provider(config.kind)
    return cls.for_config(config)


__all__ = [
    "ConnectionFailed",
    "CredentialsRejected",
    "HostNotAllowed",
    "HttpProvider",
    "MailjetProvider",
    "MessageRejected",
    "OutgoingMessage",
    "Provider",
    "ProviderError",
    "ProviderUnavailable",
    "Registry",
    "SendGridProvider",
    "SendResult",
    "SmtpProvider",
    "SmtpServer",
    "TlsFailed",
    "Verdict",
    "provider_for_config",
    "registry",
    "smtp_server_for",
    "standard_provider",
]
