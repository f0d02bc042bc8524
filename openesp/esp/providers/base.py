"""What every delivery provider offers, and the one error type they all raise.

In the spirit of django-anymail: a provider module overrides only what differs (how to check
credentials, how to build the request, how to read the answer). Every failure is a
``ProviderError`` that carries a retry verdict plus whatever the provider said (SMTP code,
enhanced status, HTTP status, text), so that one place can turn it into retry, bounce or
suppression: the record step in `delivery/record.py`.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from base64 import b64encode
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
from django.conf import settings
from django.utils.functional import Promise

from openesp.lib.ratelimit import Limits

if TYPE_CHECKING:
    from openesp.esp.models import EspConfig


class Verdict(StrEnum):
    # Temporary: try again later (deferred with backoff). Permanent: this message will never
    # go through as it is (bounced). A problem on *our* side (credentials, TLS, an unreachable
    # server) is temporary: the message is not at fault and the operator or user can fix it.
    TEMPORARY = "temporary"
    PERMANENT = "permanent"


_ENHANCED = re.compile(r"^\s*([245]\.\d{1,3}\.\d{1,3})\b")


def enhanced_status(text: str) -> str | None:
    """The RFC 3463 enhanced status code at the start of an SMTP reply text, if any."""
    match = _ENHANCED.match(text)
    return match.group(1) if match else None


def smtp_verdict(code: int) -> Verdict:
    return Verdict.PERMANENT if 500 <= code <= 599 else Verdict.TEMPORARY


class ProviderError(Exception):
    """A provider could not do what was asked. ``str()`` is safe to show: it never holds a secret.

    ``step`` names where it failed, in the words of the connection test: resolve, connect, tls,
    ehlo, auth, sender, recipient, data, credentials, send. ``recipient`` is set when the
    failure concerns one recipient only (a refused RCPT), the only case where a permanent
    verdict may suppress an address.
    """

    default_verdict: ClassVar[Verdict] = Verdict.TEMPORARY

    def __init__(
        self,
        message: str,
        *,
        step: str,
        verdict: Verdict | None = None,
        smtp_code: int | None = None,
        enhanced: str | None = None,
        http_status: int | None = None,
        provider_text: str = "",
        recipient: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.step = step
        self.verdict = verdict or (smtp_verdict(smtp_code) if smtp_code else self.default_verdict)
        self.smtp_code = smtp_code
        self.enhanced_status = enhanced or (enhanced_status(provider_text) if provider_text else None)
        self.http_status = http_status
        self.provider_text = provider_text
        self.recipient = recipient

    @property
    def temporary(self) -> bool:
        return self.verdict is Verdict.TEMPORARY

    @property
    def reply(self) -> str:
        """The server's reply as ``code text`` (SMTP) or ``HTTP status: text``, or ""."""
        if self.smtp_code is not None:
            return f"{self.smtp_code} {self.provider_text}".strip()
        if self.http_status is not None:
            return f"HTTP {self.http_status}: {self.provider_text}".strip().rstrip(":")
        return self.provider_text


# Each error also derives from the built-in it resembles, so callers may catch either (anymail).
class ProviderUnavailable(ProviderError, LookupError):
    """The operator has not configured this provider (or a kind that does not exist)."""


class HostNotAllowed(ProviderError, PermissionError):
    """A customer's host is refused by the SSRF guard (private, loopback, metadata, port)."""


class ConnectionFailed(ProviderError, ConnectionError):
    """The server could not be reached, answered nothing in time, or hung up."""


class TlsFailed(ProviderError, ConnectionError):
    """TLS was required but is not offered, or the certificate does not verify."""


class CredentialsRejected(ProviderError, PermissionError):
    """The username/password or API key was refused."""


class MessageRejected(ProviderError, ValueError):
    """The provider refused the sender, a recipient or the message itself."""


@dataclass(frozen=True)
class OutgoingMessage:
    """One message as a provider needs it. ``message_id`` is our id (the Message-ID's local part).

    ``metadata`` travels with the message where the provider allows (SendGrid ``custom_args``,
    Mailjet ``EventPayload``) so that its events can be matched back to our message.
    """

    from_email: str
    to: tuple[str, ...]
    subject: str
    text: str
    html: str = ""
    from_name: str = ""
    message_id: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)
    reply_to: str = ""
    to_name: str = ""
    attachments: tuple[ProviderAttachment, ...] = ()


@dataclass(frozen=True)
class ProviderAttachment:
    filename: str
    content: bytes = field(repr=False)
    content_type: str = "application/octet-stream"
    content_id: str = ""  # set for inline parts referenced as cid: in the HTML

    @property
    def base64(self) -> str:
        return b64encode(self.content).decode()


@dataclass(frozen=True)
class SendResult:
    """What the provider said when it accepted a message."""

    provider_message_id: str  # SendGrid X-Message-Id, Mailjet MessageUUID, SMTP queue reply
    detail: str  # the provider's answer, for the message's record


class Provider(ABC):
    """A way of delivering mail. Instances never expose their secrets (repr, str, errors).

    The class also describes the provider to the rest of openesp (the registry in
    ``openesp.esp.providers`` lists the classes): the operator settings, the effective-provider
    rules, the worker's limits, the pages and the API read these declarations and name no
    provider themselves.
    """

    kind: ClassVar[str]  # stored in EspConfig.kind and Message.provider_kind: [a-z0-9_]{1,20}
    label: ClassVar[str]  # the provider's name, as shown
    badge: ClassVar[str] = ""  # one or two characters on the provider's logo on the pages
    region: ClassVar[str | Promise] = ""  # where it is based ("EU", "USA"), shown next to the label
    provider_host: ClassVar[str] = ""  # the host name customers allow-list for it
    # True: the customer's own server, described by the fields of the config (host, port, …).
    # False: run by the operator, built from the settings below; chosen by kind alone.
    customer_server: ClassVar[bool] = False
    # The settings (names in django.conf.settings) the operator must set for it to be available.
    operator_settings: ClassVar[tuple[str, ...]] = ()
    # The settings holding its sending limits (messages per second; N per period), if any.
    limit_settings: ClassVar[tuple[str, str] | None] = None
    sending_domain_setting: ClassVar[str] = ""  # the setting naming our sending domain there

    @classmethod
    def configured(cls) -> bool:
        """Whether the operator has set everything this provider needs."""
        return all(getattr(settings, name, None) for name in cls.operator_settings)

    @classmethod
    def sending_domain(cls) -> str:
        return str(getattr(settings, cls.sending_domain_setting, "") or "") if cls.sending_domain_setting else ""

    @classmethod
    def limits(cls, config: EspConfig | None) -> Limits:
        """The sending limits of this provider for a config (None: the operator's choice)."""
        if cls.limit_settings is None:
            return Limits()
        per_second_name, window_name = cls.limit_settings
        window = getattr(settings, window_name, None)
        return Limits(
            per_second=getattr(settings, per_second_name, None),
            window_count=window[0] if window else None,
            window_seconds=window[1] if window else None,
        )

    @classmethod
    def from_settings(cls) -> Provider:
        """The operator's instance of this provider, built from settings (operator-run kinds)."""
        raise ProviderUnavailable(f"{cls.label} needs a configuration of its own", step="validate")

    @classmethod
    def for_config(cls, config: EspConfig) -> Provider:
        """The instance that sends for a saved config; operator-run kinds ignore its fields."""
        return cls.from_settings()

    def probe(self) -> str:
        """A harmless call that tells whether the provider can be reached again (failover)."""
        return self.check_credentials()

    @abstractmethod
    def check_credentials(self) -> str:
        """A harmless call that proves the credentials work; returns a short description.

        Raises ``ProviderError`` (step "credentials" for HTTP providers).
        """

    @abstractmethod
    def send(self, message: OutgoingMessage) -> SendResult:
        """Send one message; raises ``ProviderError`` with the verdict when it was not accepted."""

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[SendResult | ProviderError]:
        """One outcome per message, in order. Providers that batch override this."""
        outcomes: list[SendResult | ProviderError] = []
        for message in messages:
            try:
                outcomes.append(self.send(message))
            except ProviderError as exc:
                outcomes.append(exc)
        return outcomes

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


def http_timeout() -> float:
    """Seconds an operator-run HTTP provider may take to answer (``OPENESP_PROVIDER_HTTP_TIMEOUT``)."""
    return float(settings.OPENESP_PROVIDER_HTTP_TIMEOUT)


def http_verdict(status: int) -> Verdict:
    # 429 and 5xx: the provider is busy or broken, try later. 401/403: our credentials, not
    # the message, are at fault, so the message waits. Any other 4xx: the request itself is
    # wrong and sending it again will not help.
    if status in (401, 403, 408, 409, 429) or status >= 500:
        return Verdict.TEMPORARY
    return Verdict.PERMANENT


class HttpProvider(Provider):
    """A provider reached over an HTTP API at the operator's configured base URL.

    Subclasses set how to authenticate (``_auth_headers``/``_auth``), the credential-check path,
    and how to build a send request and read its answer.
    """

    credentials_path: ClassVar[str]

    def __init__(self, api_url: str, *, timeout: float) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout

    def _client(self) -> httpx.Client:
        # A client per call is fine for tests and single sends; the delivery engine will keep
        # one per worker. Redirects are not followed: a key must only go to the configured URL.
        return httpx.Client(
            base_url=self.api_url,
            timeout=self.timeout,
            auth=self._auth(),
            headers={"User-Agent": "openesp", **self._auth_headers()},
            follow_redirects=False,
        )

    def _auth(self) -> httpx.Auth | None:
        return None

    def _auth_headers(self) -> dict[str, str]:
        return {}

    def request(self, method: str, path: str, *, step: str, json: Any = None) -> httpx.Response:
        """One HTTP call; transport failures become ``ConnectionFailed`` (temporary)."""
        try:
            with self._client() as client:
                return client.request(method, path, json=json)
        except httpx.TimeoutException:
            raise ConnectionFailed(
                f"{self.label} did not answer within {self.timeout:g} seconds (timed out)", step=step
            ) from None
        except httpx.HTTPError as exc:
            # The exception text names the URL at most, never the Authorization header.
            raise ConnectionFailed(f"{self.label} could not be reached: {exc}", step=step) from None

    @staticmethod
    @abstractmethod
    def error_text(response: httpx.Response) -> str:
        """The provider's own message from an error response."""

    def fail(self, response: httpx.Response, *, step: str, what: str) -> ProviderError:
        text = self.error_text(response)
        status = response.status_code
        error_type: type[ProviderError] = CredentialsRejected if status in (401, 403) else MessageRejected
        if status == 429 or status >= 500:
            error_type = ConnectionFailed
        return error_type(
            f"{self.label} {what}: HTTP {status}" + (f": {text}" if text else ""),
            step=step,
            verdict=http_verdict(status),
            http_status=status,
            provider_text=text,
        )

    def check_credentials(self) -> str:
        response = self.request("GET", self.credentials_path, step="credentials")
        if response.status_code != 200:
            raise self.fail(response, step="credentials", what="refused the operator's credentials")
        return self.describe_credentials(response)

    def describe_credentials(self, response: httpx.Response) -> str:
        return f"{self.label} accepted the operator's credentials"
