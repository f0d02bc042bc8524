"""SendGrid v3: ``POST /v3/mail/send`` with a Bearer API key; ``GET /v3/scopes`` to check it."""

from __future__ import annotations

from typing import Any, ClassVar

import httpx
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from openesp.esp.providers.base import (
    CredentialsRejected,
    HttpProvider,
    OutgoingMessage,
    SendResult,
    http_timeout,
)


class SendGridProvider(HttpProvider):
    kind: ClassVar[str] = "sendgrid"
    label: ClassVar[str] = "SendGrid"
    badge: ClassVar[str] = "SG"
    region = _("USA")
    provider_host: ClassVar[str] = "sendgrid.net"
    operator_settings: ClassVar[tuple[str, ...]] = ("OPENESP_SENDGRID_API_KEY",)
    limit_settings: ClassVar[tuple[str, str] | None] = ("OPENESP_SENDGRID_MAX_PER_SECOND", "OPENESP_SENDGRID_WINDOW")
    sending_domain_setting: ClassVar[str] = "OPENESP_SENDGRID_SENDING_DOMAIN"
    # Lists the key's own permissions: harmless, and tells whether it may send at all.
    credentials_path: ClassVar[str] = "/v3/scopes"

    def __init__(self, api_url: str, api_key: str, *, timeout: float) -> None:
        super().__init__(api_url, timeout=timeout)
        self._api_key = api_key

    @classmethod
    def from_settings(cls) -> SendGridProvider:
        return cls(settings.OPENESP_SENDGRID_API_URL, settings.OPENESP_SENDGRID_API_KEY, timeout=http_timeout())

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}"}

    @staticmethod
    def error_text(response: httpx.Response) -> str:
        try:
            errors = response.json().get("errors") or []
            return "; ".join((f"{e['field']}: " if e.get("field") else "") + str(e.get("message", "")) for e in errors)
        except (ValueError, AttributeError, TypeError, KeyError):
            return response.reason_phrase

    def describe_credentials(self, response: httpx.Response) -> str:
        try:
            scopes = response.json().get("scopes") or []
        except (ValueError, AttributeError):
            scopes = []
        if "mail.send" not in scopes:
            raise CredentialsRejected(
                "SendGrid accepted the operator's API key, but it lacks the mail.send permission",
                step="credentials",
                http_status=response.status_code,
                provider_text="missing scope mail.send",
            )
        return "SendGrid accepted the operator's API key (mail.send allowed)"

    @staticmethod
    def payload(message: OutgoingMessage) -> dict[str, Any]:
        sender: dict[str, str] = {"email": message.from_email}
        if message.from_name:
            sender["name"] = message.from_name
        content = [{"type": "text/plain", "value": message.text}]
        if message.html:
            content.append({"type": "text/html", "value": message.html})
        recipients = [{"email": address} for address in message.to]
        if message.to_name and len(recipients) == 1:
            recipients[0]["name"] = message.to_name
        body: dict[str, Any] = {
            "personalizations": [{"to": recipients}],
            "from": sender,
            "subject": message.subject,
            "content": content,
        }
        headers = dict(message.headers)
        if message.message_id:
            headers.setdefault("Message-ID", f"<{message.message_id}>")
        if headers:
            body["headers"] = headers
        if message.metadata:
            body["custom_args"] = dict(message.metadata)
        if message.reply_to:
            body["reply_to"] = {"email": message.reply_to}
        if message.attachments:
            body["attachments"] = [
                {
                    "content": a.base64,
                    "filename": a.filename,
                    "type": a.content_type,
                    "disposition": "inline" if a.content_id else "attachment",
                    **({"content_id": a.content_id} if a.content_id else {}),
                }
                for a in message.attachments
            ]
        return body

    def send(self, message: OutgoingMessage) -> SendResult:
        response = self.request("POST", "/v3/mail/send", step="send", json=self.payload(message))
        if response.status_code != 202:
            raise self.fail(response, step="send", what="did not accept the message")
        message_id = response.headers.get("X-Message-Id", "")
        return SendResult(provider_message_id=message_id, detail=f"202 Accepted, X-Message-Id {message_id}")
