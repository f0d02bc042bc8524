"""What a submitted message asks of us in its headers: SendGrid's ``X-SMTPAPI`` and Mailjet's
``X-MJ-*`` / ``X-Mailjet-*``, read into a ``Instructions``; and its From, To and Subject.

SendGrid's semantics (docs "Building an X-SMTPAPI header"): ``to`` replaces the envelope
recipients, each getting a copy whose To header names only them; ``sub`` maps a tag to one value
per ``to`` address, replaced in that copy; ``category`` (a string or a list) and ``unique_args``
(an object) label the message (our tags and metadata); ``send_at`` is a UNIX time;
``asm_group_id`` names an unsubscribe group, kept in the metadata; ``filters`` ``opentrack`` and
``clicktrack`` (``{"settings": {"enable": 0|1}}``) choose the message's tracking. Mailjet's
``X-MJ-CustomID`` and ``X-MJ-EventPayload`` become metadata, ``X-Mailjet-Campaign`` a tag,
``X-Mailjet-TrackOpen`` / ``-TrackClick`` (``0`` off, ``1`` on) the tracking. The headers
themselves are removed at delivery (``delivery.relayed``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message as ParsedHeaders
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses, parseaddr
from typing import Any

MAX_TAGS = 10
MAX_METADATA_VALUE = 1000


class BadInstructions(ValueError):
    """A header we act on is malformed; the message names the header and what is wrong."""


@dataclass
class Instructions:
    from_name: str
    from_email: str
    subject: str
    to: list[tuple[str, str]] | None = None  # (name, address) from X-SMTPAPI ``to``
    substitutions: dict[str, list[str]] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    send_at: datetime | None = None
    tracking: dict[str, bool] = field(default_factory=dict)  # "opens", "clicks"; absent: the default


def _text(value: Any) -> str:
    """A header value as text: RFC 2047 words decoded, folding undone."""
    if value is None:
        return ""
    try:
        decoded = str(make_header(decode_header(str(value))))
    except (UnicodeError, LookupError, ValueError):
        decoded = str(value)
    return " ".join(decoded.split())


def _as_string(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _smtpapi(raw: str, found: Instructions) -> None:
    try:
        data = json.loads(raw)
    except ValueError:
        raise BadInstructions("X-SMTPAPI: is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadInstructions("X-SMTPAPI: must be a JSON object")
    if "to" in data:
        to = data["to"]
        if not isinstance(to, list) or not to or not all(isinstance(a, str) for a in to):
            raise BadInstructions("X-SMTPAPI: to must be a list of addresses")
        found.to = [parseaddr(a) for a in to]
    sub = data.get("sub") or {}
    if not isinstance(sub, dict) or not all(isinstance(v, list) for v in sub.values()):
        raise BadInstructions("X-SMTPAPI: sub must map each tag to a list of values")
    if sub and found.to is None:
        raise BadInstructions("X-SMTPAPI: sub needs a to list (one value per address)")
    for tag, values in sub.items():
        if found.to is not None and len(values) != len(found.to):
            raise BadInstructions(f"X-SMTPAPI: sub {tag!r} needs one value per address in to")
        found.substitutions[str(tag)] = [_as_string(v) for v in values]
    category = data.get("category")
    if category is not None:
        categories = [category] if isinstance(category, str) else category
        if not isinstance(categories, list) or not all(isinstance(c, str) and c for c in categories):
            raise BadInstructions("X-SMTPAPI: category must be a string or a list of strings")
        found.tags += [c[:64] for c in categories]
    unique_args = data.get("unique_args") or {}
    if not isinstance(unique_args, dict):
        raise BadInstructions("X-SMTPAPI: unique_args must be an object")
    found.metadata.update({str(k): _as_string(v)[:MAX_METADATA_VALUE] for k, v in unique_args.items()})
    if data.get("asm_group_id") is not None:
        if not isinstance(data["asm_group_id"], int):
            raise BadInstructions("X-SMTPAPI: asm_group_id must be an integer")
        found.metadata["asm_group_id"] = str(data["asm_group_id"])
    filters = data.get("filters") or {}
    if not isinstance(filters, dict):
        raise BadInstructions("X-SMTPAPI: filters must be an object")
    for name, ours in (("opentrack", "opens"), ("clicktrack", "clicks")):
        if name not in filters:
            continue
        settings = filters[name].get("settings") if isinstance(filters[name], dict) else None
        enable = settings.get("enable") if isinstance(settings, dict) else None
        if enable not in (0, 1, "0", "1"):  # True and False are 1 and 0
            raise BadInstructions(f'X-SMTPAPI: filters.{name} must be {{"settings": {{"enable": 0 or 1}}}}')
        found.tracking[ours] = int(enable) == 1
    if data.get("send_at") is not None:
        if not isinstance(data["send_at"], int) or data["send_at"] < 0:
            raise BadInstructions("X-SMTPAPI: send_at must be a UNIX time (seconds)")
        found.send_at = datetime.fromtimestamp(data["send_at"], UTC)


def _mailjet(headers: ParsedHeaders, found: Instructions) -> None:
    for name, key in (("X-MJ-CustomID", "CustomID"), ("X-MJ-EventPayload", "EventPayload")):
        value = _text(headers.get(name))
        if value:
            found.metadata[key] = value[:MAX_METADATA_VALUE]
    campaign = _text(headers.get("X-Mailjet-Campaign"))
    if campaign:
        found.tags.append(campaign[:64])
    for name, ours in (("X-Mailjet-TrackOpen", "opens"), ("X-Mailjet-TrackClick", "clicks")):
        value = _text(headers.get(name))
        if value:
            if value not in ("0", "1"):
                raise BadInstructions(f"{name}: must be 0 (off) or 1 (on)")
            found.tracking[ours] = value == "1"


def read(raw: bytes) -> Instructions:
    """The instructions and addresses of a submitted message (its header section only)."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
    froms = getaddresses([str(v) for v in headers.get_all("From") or []])
    if len(froms) != 1 or "@" not in froms[0][1]:
        raise BadInstructions("From: the message needs exactly one From address")
    found = Instructions(from_name=_text(froms[0][0]), from_email=froms[0][1], subject=_text(headers.get("Subject")))
    smtpapi = headers.get_all("X-SMTPAPI") or []
    if smtpapi:
        _smtpapi(" ".join(str(smtpapi[0]).split()), found)  # the first one counts, as at SendGrid
    _mailjet(headers, found)
    if len(found.tags) > MAX_TAGS:
        raise BadInstructions(f"X-SMTPAPI: at most {MAX_TAGS} categories")
    return found
