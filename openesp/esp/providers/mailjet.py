"""Mailjet Send API v3.1: ``POST /v3.1/send`` with Basic key:secret; ``GET /v3/REST/myprofile``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import httpx
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from openesp.esp.providers.base import (
    HttpProvider,
    MessageRejected,
    OutgoingMessage,
    ProviderError,
    SendResult,
    Verdict,
    http_timeout,
)

MAX_MESSAGES_PER_CALL = 50


class MailjetProvider(HttpProvider):
    kind: ClassVar[str] = "mailjet"
    label: ClassVar[str] = "Mailjet"
    badge: ClassVar[str] = "MJ"
    region = _("EU")
    provider_host: ClassVar[str] = "mailjet.com"
    operator_settings: ClassVar[tuple[str, ...]] = ("OPENESP_MAILJET_API_KEY", "OPENESP_MAILJET_SECRET_KEY")
    limit_settings: ClassVar[tuple[str, str] | None] = ("OPENESP_MAILJET_MAX_PER_SECOND", "OPENESP_MAILJET_WINDOW")
    sending_domain_setting: ClassVar[str] = "OPENESP_MAILJET_SENDING_DOMAIN"
    # Reads the account profile: harmless, and needs the same key pair that sends.
    credentials_path: ClassVar[str] = "/v3/REST/myprofile"

    def __init__(self, api_url: str, api_key: str, secret_key: str, *, timeout: float) -> None:
        super().__init__(api_url, timeout=timeout)
        self._key_pair = (api_key, secret_key)

    @classmethod
    def from_settings(cls) -> MailjetProvider:
        return cls(
            settings.OPENESP_MAILJET_API_URL,
            settings.OPENESP_MAILJET_API_KEY,
            settings.OPENESP_MAILJET_SECRET_KEY,
            timeout=http_timeout(),
        )

    def _auth(self) -> httpx.Auth:
        return httpx.BasicAuth(*self._key_pair)

    @staticmethod
    def error_text(response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return response.reason_phrase
        if isinstance(body, dict) and body.get("ErrorMessage"):
            return str(body["ErrorMessage"])
        if isinstance(body, dict) and isinstance(body.get("Messages"), list):
            return "; ".join(
                _message_errors(item) for item in body["Messages"] if isinstance(item, dict) and item.get("Errors")
            )
        return response.reason_phrase

    @staticmethod
    def payload_message(message: OutgoingMessage) -> dict[str, Any]:
        sender: dict[str, str] = {"Email": message.from_email}
        if message.from_name:
            sender["Name"] = message.from_name
        item: dict[str, Any] = {
            "From": sender,
            "To": [
                {"Email": address, **({"Name": message.to_name} if message.to_name and len(message.to) == 1 else {})}
                for address in message.to
            ],
            "Subject": message.subject,
            "TextPart": message.text,
        }
        if message.html:
            item["HTMLPart"] = message.html
        headers = dict(message.headers)
        if message.message_id:
            headers.setdefault("Message-ID", f"<{message.message_id}>")
            # CustomID comes back in Mailjet's events: how they find our message again.
            item["CustomID"] = message.message_id
        if headers:
            item["Headers"] = headers
        if message.reply_to:
            item["ReplyTo"] = {"Email": message.reply_to}
        attached = [a for a in message.attachments if not a.content_id]
        inlined = [a for a in message.attachments if a.content_id]
        if attached:
            item["Attachments"] = [
                {"ContentType": a.content_type, "Filename": a.filename, "Base64Content": a.base64} for a in attached
            ]
        if inlined:
            item["InlinedAttachments"] = [
                {"ContentType": a.content_type, "Filename": a.filename, "ContentID": a.content_id,
                 "Base64Content": a.base64}
                for a in inlined
            ]  # fmt: skip
        if message.metadata:
            item["EventPayload"] = ";".join(f"{k}={v}" for k, v in sorted(message.metadata.items()))
        return item

    def send(self, message: OutgoingMessage) -> SendResult:
        outcome = self.send_many([message])[0]
        if isinstance(outcome, ProviderError):
            raise outcome
        return outcome

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[SendResult | ProviderError]:
        outcomes: list[SendResult | ProviderError] = []
        for start in range(0, len(messages), MAX_MESSAGES_PER_CALL):
            chunk = messages[start : start + MAX_MESSAGES_PER_CALL]
            outcomes.extend(self._send_chunk(chunk))
        return outcomes

    def _send_chunk(self, chunk: Sequence[OutgoingMessage]) -> list[SendResult | ProviderError]:
        body = {"Messages": [self.payload_message(m) for m in chunk]}
        response = self.request("POST", "/v3.1/send", step="send", json=body)
        try:
            results = response.json().get("Messages")
        except (ValueError, AttributeError):
            results = None
        # Mailjet answers 200 when all went through and 400 with a status per message when some
        # did not; anything else (401, 429, 5xx, no per-message list) applies to the whole call.
        if response.status_code not in (200, 400) or not isinstance(results, list) or len(results) != len(chunk):
            error = self.fail(response, step="send", what="did not accept the messages")
            return [error for _ in chunk]
        outcomes: list[SendResult | ProviderError] = []
        for result in results:
            if isinstance(result, dict) and result.get("Status") == "success":
                sent = result.get("To") or [{}]
                uuid = str(sent[0].get("MessageUUID", ""))
                ids = ", ".join(str(r.get("MessageID", "")) for r in sent)
                outcomes.append(SendResult(provider_message_id=uuid, detail=f"success, MessageID {ids}"))
            else:
                text = _message_errors(result if isinstance(result, dict) else {})
                outcomes.append(
                    MessageRejected(
                        f"Mailjet did not accept the message: {text}",
                        step="send",
                        verdict=Verdict.PERMANENT,
                        http_status=response.status_code,
                        provider_text=text,
                    )
                )
        return outcomes


def _message_errors(item: dict[str, Any]) -> str:
    errors = item.get("Errors") or []
    return "; ".join(
        f"{e.get('ErrorCode', '')} {e.get('ErrorMessage', '')}".strip() for e in errors if isinstance(e, dict)
    ) or str(item.get("Status", "error"))
