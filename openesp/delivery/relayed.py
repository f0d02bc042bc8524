"""Mail that came in over SMTP, made ready to relay: the bytes as the client sent them, minus
the headers that were instructions to us, plus the headers we owe every message.

Removed: SendGrid's ``X-SMTPAPI`` and Mailjet's ``X-MJ-*`` / ``X-Mailjet-*`` (openesp has
acted on them when it accepted the message; they would leak metadata to the recipient), and
``Bcc`` (each recipient gets a copy; a Bcc header would show the hidden ones). Added when
missing: ``Message-ID`` (ours, so bounces and replies can be matched) and ``Date``. The body
and its MIME structure are not touched. Free of Django, like ``render``: it runs in the build
processes.
"""

from __future__ import annotations

from email.utils import formatdate

_CRLF = b"\r\n"


def _is_instruction(name: bytes) -> bool:
    lower = name.strip().lower()
    return lower in (b"x-smtpapi", b"bcc") or lower.startswith(b"x-mj-") or lower.startswith(b"x-mailjet-")


def split_head(raw: bytes) -> tuple[list[bytes], bytes]:
    """The header fields (each with its continuation lines and final CRLF) and the rest (the
    empty line and the body), as bytes; a message without a body is all head."""
    end = raw.find(b"\r\n\r\n")
    head, rest = (raw, b"") if end < 0 else (raw[: end + 2], raw[end + 2 :])
    fields: list[bytes] = []
    for line in head.split(_CRLF)[:-1] if head.endswith(_CRLF) else head.split(_CRLF):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line + _CRLF
        else:
            fields.append(line + _CRLF)
    return fields, rest


def field_name(field: bytes) -> bytes:
    return field.split(b":", 1)[0].strip().lower()


def replace_field(fields: list[bytes], name: str, value: str) -> list[bytes]:
    """``fields`` with the field ``name`` set to ``value`` (added first when it had none)."""
    new = f"{name}: {value}\r\n".encode()
    key = name.lower().encode()
    replaced = [new if field_name(f) == key else f for f in fields]
    return replaced if new in replaced else [new, *replaced]


def prepare(raw: bytes, *, message_id: str, from_header: str = "", to_header: str = "") -> bytes:
    """``raw`` without our instruction headers and Bcc, with our Message-ID and a Date when it
    had none; ``from_header`` (a custom SMTP server's own From) replaces the From field,
    ``to_header`` (X-SMTPAPI ``to``: this recipient alone) the To field."""
    fields, rest = split_head(raw)
    kept = [f for f in fields if not _is_instruction(field_name(f))]
    names = {field_name(f) for f in kept}
    if from_header:
        kept = replace_field(kept, "From", from_header)
    if to_header:
        kept = replace_field(kept, "To", to_header)
    if b"message-id" not in names:
        kept.append(f"Message-ID: <{message_id}>\r\n".encode())
    if b"date" not in names:
        kept.append(f"Date: {formatdate(localtime=False, usegmt=True)}\r\n".encode())
    return b"".join(kept) + (rest or _CRLF)
