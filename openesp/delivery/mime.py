"""Fast MIME building for outgoing mail.

``email.message.EmailMessage`` costs about 3 ms per message, too slow for a worker meant to send
over a thousand messages a second (figures in docs/benchmarks.md). Here a message is assembled
from pre-encoded parts: quoted-printable by a few C-speed byte operations for text of printable
ASCII with at most a few other bytes (``_qp_plain``) and by ``binascii`` otherwise, base64 by
``binascii``; header values are encoded with RFC 2047 only when they are not plain ASCII.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.header import Header
from email.utils import formatdate

from openesp.lib.headers import HeaderInjection as HeaderInjection
from openesp.lib.headers import check_header_value
from openesp.lib.headers import format_address as format_address

_CRLF = b"\r\n"


def encode_header(name: str, value: str) -> bytes:
    """``Name: value`` + CRLF, RFC 2047-encoded and folded when it is not plain short ASCII."""
    check_header_value(name, value)
    if value.isascii() and len(name) + len(value) < 976:
        return f"{name}: {value}".encode() + _CRLF
    encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}".encode() + _CRLF


def _qp(text: str) -> bytes:
    # Normalise line endings first; quoted-printable then keeps lines under 76 characters.
    if "\r" in text:  # one memchr; the two replaces each scan the whole text
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    data = text.encode("utf-8")
    odd = data.translate(None, _PLAIN)  # the bytes that need an escape of their own
    if len(odd) * _FEW <= len(data):
        return _qp_plain(data, odd)
    encoded: bytes = binascii.b2a_qp(data, quotetabs=False, istext=True, header=False)
    if _blank_ends_a_line(data):
        encoded = _at_most_76(encoded)
    return encoded.replace(b"\n", _CRLF)


# Printable ASCII, tab and line feed: text of only these needs no escape but for "=" and a
# space or tab that ends a line.
_PLAIN = bytes(range(32, 127)) + b"\t\n"
# At most one byte in this many escaped (a "·" or a "é" here and there in English, the usual
# campaign footer): ``_qp_plain``. More (Swedish prose): escaped lines outgrow 76 characters and
# cutting them one by one costs more than ``b2a_qp``'s single pass (docs/benchmarks.md, round 9).
_FEW = 32
_BLANK = (b" ", b"\t")


def _blank_ends_a_line(data: bytes) -> bool:
    """A space or tab before a line feed or at the end: quoted-printable must escape it."""
    return b" \n" in data or b"\t\n" in data or data.endswith(_BLANK)


def _qp_plain(data: bytes, odd: bytes = b"") -> bytes:
    """Quoted-printable of ``data`` (line feeds only), with CRLF; ``odd``: its bytes that are
    not printable ASCII, tab or line feed (``data.translate(None, _PLAIN)``), best few.

    ``binascii.b2a_qp`` looks at every byte on its own: 7 to 15 µs a kilobyte on the project's
    machines, a fifth of building and signing a 12 KB message (``bench.steps``). Here the
    escapes are C-speed replaces — "=" and each distinct odd byte (a "·" is two) — and the long
    lines are cut by a regular expression: two to three times faster. Lines come out as RFC
    2045 wants them: at most 76 characters, a soft break never inside an ``=XX`` escape, no
    space or tab at the end of a line.
    """
    escaped = data.replace(b"=", b"=3D")
    for byte in set(odd):  # none of these is "=" nor in an escape's "=XX": no replace sees another's
        escaped = escaped.replace(bytes((byte,)), b"=%02X" % byte)
    lines = escaped.split(b"\n")
    if max(map(len, lines)) <= 76 and not _blank_ends_a_line(data):
        return _CRLF.join(lines)
    return _CRLF.join([line if len(line) <= 76 and not line.endswith(_BLANK) else _cut(line) for line in lines])


def _cut(line: bytes) -> bytes:
    """One line: its last space or tab escaped, then cut by soft line breaks into pieces."""
    if line.endswith(_BLANK):
        line = line[:-1] + (b"=20" if line[-1] == _SPACE else b"=09")
    return b"=\r\n".join(_PIECE.findall(line)) if len(line) > 76 else line


_SPACE = ord(" ")
# One piece of a long line before a soft break: 75 characters, or 74 or 73 where the piece
# would otherwise end inside an "=XX" escape (the line holds no "=" but those); or the rest of
# the line. findall cuts a line from its start into these pieces with nothing left between.
_PIECE = re.compile(rb".{73}(?:[^=]{2}|[^=](?==)|(?==))|.{1,75}$", re.DOTALL)


def _at_most_76(encoded: bytes) -> bytes:
    """``encoded`` with every line at most 76 characters, as RFC 2045 requires.

    ``b2a_qp`` encodes a space or tab that ends a line (``=20``, ``=09``) after it has decided
    where to wrap, so such a line can come out 77 or 78 characters long (SpamAssassin scores
    that as MIME_QP_LONG_LINE). Only a line ending in whitespace can: a soft line break before
    its last escape makes it two lines that decode to the same text.
    """
    lines = encoded.split(b"\n")
    for i, line in enumerate(lines):
        if len(line) > 76 and line.endswith((b"=20", b"=09")):
            lines[i] = line[:-3] + b"=\n" + line[-3:]
    return b"\n".join(lines)


def _text_part(subtype: str, text: str) -> bytes:
    return (
        f"Content-Type: text/{subtype}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n".encode()
        + _qp(text)
    )


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    content_type: str = "application/octet-stream"
    content_id: str = ""  # set for inline images referenced as cid: in the HTML

    def encode(self) -> bytes:
        check_header_value("filename", self.filename)
        check_header_value("content_type", self.content_type)
        disposition = "inline" if self.content_id else "attachment"
        name = Header(self.filename, "utf-8").encode() if not self.filename.isascii() else self.filename
        name = name.replace('"', "")
        head = (
            f'Content-Type: {self.content_type}; name="{name}"\r\n'
            f'Content-Disposition: {disposition}; filename="{name}"\r\n'
            "Content-Transfer-Encoding: base64\r\n"
        )
        if self.content_id:
            check_header_value("content_id", self.content_id)
            head += f"Content-ID: <{self.content_id}>\r\n"
        encoded = base64.encodebytes(self.content).replace(b"\n", _CRLF)
        return head.encode() + _CRLF + encoded


def _multipart(subtype: str, parts: Sequence[bytes]) -> bytes:
    boundary = "=_" + secrets.token_hex(12)
    # The CRLF before each delimiter belongs to the delimiter (RFC 2046 §5.1.1), so a part's
    # own final line break is kept by adding one more.
    body = b"".join(b"--" + boundary.encode() + _CRLF + part + _CRLF for part in parts)
    head = f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n'.encode()
    return head + body + b"--" + boundary.encode() + b"--" + _CRLF


@dataclass
class OutgoingMail:
    from_email: str
    to: Sequence[tuple[str, str]]  # (email, name)
    subject: str
    message_id: str  # without angle brackets
    text: str = ""
    html: str = ""
    from_name: str = ""
    cc: Sequence[tuple[str, str]] = ()
    reply_to: str = ""
    headers: Sequence[tuple[str, str]] = ()
    attachments: Sequence[Attachment] = ()
    date: str = field(default_factory=lambda: formatdate(localtime=False, usegmt=True))

    def to_bytes(self, *, to_header: str = "", cc_header: str = "") -> bytes:
        """The whole message, CRLF line endings, ready to sign and send.

        ``to_header``/``cc_header``: ready-made header values (already checked addresses)
        instead of ``to``/``cc``.
        """
        head = [
            encode_header("From", format_address(self.from_email, self.from_name)),
            encode_header("To", to_header or ", ".join(format_address(e, n) for e, n in self.to)),
        ]
        cc = cc_header or ", ".join(format_address(e, n) for e, n in self.cc)
        if cc:
            head.append(encode_header("Cc", cc))
        if self.reply_to:
            head.append(encode_header("Reply-To", self.reply_to))
        head += [
            encode_header("Subject", self.subject),
            encode_header("Date", self.date),
            encode_header("Message-ID", f"<{self.message_id}>"),
            b"MIME-Version: 1.0\r\n",
        ]
        for name, value in self.headers:
            check_header_value("header name", name)
            head.append(encode_header(name, value))
        return b"".join(head) + self._body()

    def _body(self) -> bytes:
        text = self.text or (html_to_text(self.html) if self.html else "")
        content = (
            _multipart("alternative", [_text_part("plain", text), _text_part("html", self.html)])
            if self.html
            else _text_part("plain", text)
        )
        if self.attachments:
            content = _multipart("mixed", [content, *(a.encode() for a in self.attachments)])
        return content


def html_to_text(html: str) -> str:
    """A readable plain-text alternative for an HTML-only message."""
    from openesp.lib.htmltext import html_to_text as convert

    return convert(html)
