"""SendGrid's Event Webhook: a signed JSON array of events.

The signature (Signed Event Webhook) is ECDSA P-256 over SHA-256 of the timestamp header's text
followed by the raw body, base64 DER in ``X-Twilio-Email-Event-Webhook-Signature``; the public
key is the base64 DER (SubjectPublicKeyInfo) SendGrid shows when signing is switched on. Our
message is named by the ``custom_args`` we send (``openesp_message_id``), which SendGrid copies
into every event as a top-level field.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

from openesp.esp.webhooks import (
    Ignored,
    Malformed,
    ProviderEvent,
    Refused,
    enhanced_in,
    smtp_code_in,
    text_of,
    unix_time,
)

PROVIDER = "sendgrid"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
TOLERANCE = 300  # seconds either side of now: older (or future) timestamps are replays
REF_FIELD = "openesp_message_id"  # the custom_args key openesp/delivery/build.py sends

_TYPES = {
    "delivered": "delivered",
    "deferred": "deferred",
    "bounce": "bounced",
    "dropped": "dropped",
    "open": "opened",
    "click": "clicked",
    "spamreport": "complained",
    "unsubscribe": "unsubscribed",
    "group_unsubscribe": "unsubscribed",
}


def public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The verification key from its configured form: base64 DER as SendGrid shows it, or PEM."""
    text = text.strip()
    try:
        key = (
            load_pem_public_key(text.encode())
            if text.startswith("-----BEGIN")
            else load_der_public_key(base64.b64decode(text, validate=True))
        )
    except (ValueError, binascii.Error):
        raise Refused("the configured SendGrid public key cannot be read") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise Refused("the configured SendGrid public key is not an ECDSA key")
    return key


def verify(body: bytes, signature: str, timestamp: str, key_text: str, now: float | None = None) -> None:
    """Refused unless ``signature`` signs ``timestamp + body`` and the timestamp is within ±5 minutes."""
    if not key_text:
        raise Refused("SendGrid events are not accepted here: OPENESP_SENDGRID_WEBHOOK_PUBLIC_KEY is not set")
    if not signature or not timestamp:
        raise Refused(f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER}")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise Refused(f"{TIMESTAMP_HEADER}: not a Unix time") from None
    if abs((time.time() if now is None else now) - sent_at) > TOLERANCE:
        raise Refused(f"{TIMESTAMP_HEADER}: outside ±{TOLERANCE // 60} minutes of now (a replay or a wrong clock)")
    try:
        raw = base64.b64decode(signature, validate=True)
        public_key(key_text).verify(raw, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError):
        raise Refused("the signature does not match the body") from None


def event_id(item: Any) -> str:
    """The event's id for de-duplication, read cheaply while the request waits ("" if none)."""
    value = item.get("sg_event_id") if isinstance(item, dict) else None
    return value[:200] if isinstance(value, str) else ""


def parse(item: Any) -> ProviderEvent:
    """One element of the array as a ProviderEvent (Malformed or Ignored when it is not one)."""
    if not isinstance(item, dict):
        raise Malformed("an event must be a JSON object")
    kind = text_of(item, "event", 40)
    if not kind:
        raise Malformed("event: missing")
    event_id = text_of(item, "sg_event_id", 200)
    if not event_id:
        raise Malformed("sg_event_id: missing")
    if kind not in _TYPES:
        raise Ignored(f"event {kind!r} is not recorded")
    occurred_at = unix_time(item, "timestamp")
    ref = text_of(item, REF_FIELD, 100)
    response = text_of(item, "response") or text_of(item, "reason")
    status = text_of(item, "status", 16)
    bounce = ""
    if kind == "bounce":
        # "bounce": the receiving server refused the address; "blocked": it refused this
        # message for now (reputation, content, a full mailbox).
        bounce = "soft" if text_of(item, "type", 20) == "blocked" or status.startswith("4") else "hard"
    extra = {k: text_of(item, k, 200) for k in ("bounce_classification", "sg_message_id") if k in item}
    if item.get("sg_machine_open") is True:  # Apple Mail Privacy Protection fetched the pixel
        extra["machine"] = "true"
    category = item.get("category")  # a text or a list of texts (several categories)
    if isinstance(category, list):
        extra["category"] = ",".join(str(c) for c in category)[:200]
    elif isinstance(category, str):
        extra["category"] = category[:200]
    return ProviderEvent(
        provider=PROVIDER,
        type=_TYPES[kind],
        message_ref=ref,
        event_id=event_id,
        occurred_at=occurred_at,
        bounce=bounce,
        smtp_code=smtp_code_in(response),
        enhanced_status=status if status[:1] in ("2", "4", "5") else enhanced_in(response),
        text=response,
        url=text_of(item, "url", 2000),
        user_agent=text_of(item, "useragent", 500),
        ip=text_of(item, "ip", 64),
        email=text_of(item, "email", 320),
        extra={k: v for k, v in extra.items() if v},
    )
