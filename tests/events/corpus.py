"""The bounce corpus: real-shaped bounce mail with placeholders for the addresses of a test."""

from __future__ import annotations

from pathlib import Path

CORPUS = Path(__file__).parent / "bounces"


def bounce_mail(name: str, *, verp: str = "b+0@bounces.example", rcpt: str = "nobody@example.net",
                msgid: str = "00000000-0000-0000-0000-000000000000@openesp.test") -> bytes:  # fmt: skip
    text = (CORPUS / name).read_text()
    text = text.replace("{VERP}", verp).replace("{RCPT}", rcpt).replace("{MSGID}", msgid)
    return text.replace("\n", "\r\n").encode()  # as mail travels: CRLF line ends
