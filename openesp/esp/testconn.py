"""*Test connection*: prove that a provider choice works by sending the acting user a test mail.

The result names the step that failed, in the user's terms, with the server's own reply where
there is one. It never holds a password or an API key. The callers are synchronous Django views
and API routes; the SMTP exchange runs in its own event loop (``asyncio.run``).
"""

from __future__ import annotations

import logging
import math
import secrets
from dataclasses import dataclass

from django.conf import settings

from openesp.esp.actions import EspInput, validate
from openesp.esp.models import EspConfig, EspKind
from openesp.esp.operator import standard_providers
from openesp.esp.providers import (
    OutgoingMessage,
    ProviderError,
    SmtpProvider,
    SmtpServer,
    standard_provider,
)
from openesp.lib.errors import InvalidInput
from openesp.lib.ratelimit import Limits, acquire
from openesp.lib.secretbox import SecretUnreadable

log = logging.getLogger(__name__)

STEPS = (
    "validate",
    "resolve",
    "connect",
    "tls",
    "ehlo",
    "auth",
    "sender",
    "recipient",
    "data",
    "credentials",
    "send",
    "done",
)


@dataclass(frozen=True)
class TestResult:
    ok: bool
    step: str  # one of STEPS: where it stopped, or "done"
    detail: str  # for people: includes the server's reply where there is one; never a secret

    __test__ = False  # a result type, not a pytest test class


def _test_message(from_email: str, to_email: str, via: str) -> OutgoingMessage:
    return OutgoingMessage(
        from_email=from_email,
        to=(to_email,),
        subject="openesp connection test",
        text=(
            "This is a connection test from openesp.\n\n"
            f"It was sent through {via} to check that mail sent on your behalf can be delivered. "
            "It was sent to you because you asked to test the connection; nothing else needs to be done.\n"
        ),
        message_id=f"connection-test.{secrets.token_hex(12)}@{settings.OPENESP_MAIL_DOMAIN}",
    )


def _test_smtp(server: SmtpServer, from_email: str, to_email: str) -> TestResult:
    provider = SmtpProvider(server)
    message = _test_message(from_email, to_email, f"the SMTP server {server.host}:{server.port}")
    try:
        sent = provider.send(message)
    except ProviderError as exc:
        log.info("connection test to %r failed at %s (%s)", provider, exc.step, exc.verdict)
        return TestResult(False, exc.step, str(exc))
    log.info("connection test to %r succeeded", provider)
    return TestResult(
        True,
        "done",
        f"{server.host} accepted the test message ({sent.detail}); it was sent from {from_email} to {to_email}",
    )


def _test_standard(kind: str, to_email: str) -> TestResult:
    try:
        provider = standard_provider(kind)
    except ProviderError as exc:
        return TestResult(False, "validate", str(exc))
    try:
        checked = provider.check_credentials()
    except ProviderError as exc:
        log.info("connection test to %s failed at %s: HTTP %s", kind, exc.step, exc.http_status)
        return TestResult(False, "credentials", str(exc))
    domain = standard_providers()[kind].sending_domain
    from_email = f"no-reply@{domain}" if domain else settings.OPENESP_SYSTEM_FROM
    try:
        sent = provider.send(_test_message(from_email, to_email, provider.label))
    except ProviderError as exc:
        log.info("connection test to %s failed at send: HTTP %s", kind, exc.http_status)
        return TestResult(False, "send", str(exc))
    return TestResult(True, "done", f"{checked}; it accepted the test message to {to_email} ({sent.detail})")


# Named test_* because that is the public name the UI and API call; it is not a pytest test.
def test_config(
    data: EspInput,
    *,
    to_email: str,
    existing: EspConfig | None = None,  # noqa: PT028
) -> TestResult:
    """Test a provider choice as typed in a form, before (or without) saving it.

    ``data.password`` None means "the stored password": ``existing`` supplies it, and validation
    refuses that when the host has changed.
    """
    # Each test connects to a host the user chose and sends a mail: bounded per person, so the
    # button cannot be turned into a port prober or a mail cannon.
    grant = acquire(
        f"esp-test:{to_email.lower()}",
        1,
        Limits(window_count=settings.OPENESP_TEST_CONNECTION_LIMIT, window_seconds=3600),
    )
    if not grant.granted:
        minutes = max(1, math.ceil(grant.retry_after / 60))
        return TestResult(
            False, "validate", f"too many connection tests in the last hour; try again in {minutes} minutes"
        )
    try:
        clean = validate(data, existing)
    except InvalidInput as exc:
        return TestResult(False, "validate", str(exc))
    if clean is None:
        return _test_standard(data.kind, to_email)
    password = clean.password
    if password is None:
        try:
            password = existing.get_password() if existing is not None else ""
        except SecretUnreadable:
            return TestResult(False, "validate", "password: the stored password cannot be read; enter it again")
    server = SmtpServer(
        host=clean.host,
        port=clean.port,
        security=clean.security,
        username=clean.username,
        password=password,
        guarded=True,
    )
    return _test_smtp(server, clean.from_email, to_email)


def test_saved_config(config: EspConfig, *, to_email: str) -> TestResult:
    """Test a saved config, validated again against today's rules (guard, consumer hosts)."""
    if config.kind != EspKind.SMTP:
        return test_config(EspInput(kind=config.kind), to_email=to_email, existing=config)
    data = EspInput(
        kind=config.kind,
        host=config.host,
        port=config.port,
        security=config.security,
        from_email=config.from_email,
        username=config.username,
        password=None,  # keep the stored one
    )
    return test_config(data, to_email=to_email, existing=config)


# pytest would otherwise collect these when a test module imports them by name.
test_config.__test__ = False  # type: ignore[attr-defined]
test_saved_config.__test__ = False  # type: ignore[attr-defined]
