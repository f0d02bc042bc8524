"""Delivery providers, one module each, and the registry that builds them from settings/configs.

Adding a provider: a module with a ``Provider`` subclass (``HttpProvider`` for an HTTP API),
its settings in ``openesp/settings.py`` and ``openesp/esp/operator.py``, an entry below, and a
local test server in ``tests/servers/``.
"""

from __future__ import annotations

from django.conf import settings

from openesp.esp.models import EspConfig, EspKind
from openesp.esp.operator import standard_providers
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
from openesp.esp.providers.sendgrid import SendGridProvider
from openesp.esp.providers.smtp import SmtpProvider, SmtpServer

PROVIDER_CLASSES: dict[str, type[Provider]] = {
    SendGridProvider.kind: SendGridProvider,
    MailjetProvider.kind: MailjetProvider,
    SmtpProvider.kind: SmtpProvider,
}


def standard_provider(kind: str) -> HttpProvider:
    """The operator's SendGrid/Mailjet, from settings; ``ProviderUnavailable`` when not configured."""
    described = standard_providers().get(kind)
    if described is None:
        raise ProviderUnavailable(f"{kind!r} is not a standard provider", step="validate", verdict=Verdict.PERMANENT)
    if not described.available:
        raise ProviderUnavailable(
            f"{described.label} is not available on this server", step="validate", verdict=Verdict.TEMPORARY
        )
    timeout = float(settings.OPENESP_PROVIDER_HTTP_TIMEOUT)
    if kind == SendGridProvider.kind:
        return SendGridProvider(described.api_url, settings.OPENESP_SENDGRID_API_KEY, timeout=timeout)
    if kind == MailjetProvider.kind:
        return MailjetProvider(
            described.api_url,
            settings.OPENESP_MAILJET_API_KEY,
            settings.OPENESP_MAILJET_SECRET_KEY,
            timeout=timeout,
        )
    raise ProviderUnavailable(f"no provider module for {kind!r}", step="validate", verdict=Verdict.PERMANENT)


def smtp_server_for(config: EspConfig) -> SmtpServer:
    """A customer's SMTP server from a saved config; the password is decrypted here, on use."""
    return SmtpServer(
        host=config.host,
        port=config.port or 587,
        security=config.security or "starttls",
        username=config.username,
        password=config.get_password(),
        guarded=True,
    )


def provider_for_config(config: EspConfig) -> Provider:
    if config.kind == EspKind.SMTP:
        return SmtpProvider(smtp_server_for(config))
    return standard_provider(config.kind)


__all__ = [
    "PROVIDER_CLASSES",
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
    "SendGridProvider",
    "SendResult",
    "SmtpProvider",
    "SmtpServer",
    "TlsFailed",
    "Verdict",
    "provider_for_config",
    "smtp_server_for",
    "standard_provider",
]
