"""The fast MIME builder produces messages the standard library parses back intact."""

from __future__ import annotations

import binascii
import email
import email.policy
import random

import pytest

from openesp.delivery.mime import _FEW, _PLAIN, Attachment, HeaderInjection, OutgoingMail, _qp


def _parse(raw: bytes) -> email.message.EmailMessage:
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF everywhere
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def test_it_builds_text_and_html_alternatives():
    mail = OutgoingMail(
        from_email="alice@example.org",
        from_name="Åsa Öberg",
        to=[("bob@example.net", "Bob, the Builder")],
        cc=[("carol@example.net", "")],
        reply_to="help@example.org",
        subject="Välkommen — a long subject " * 5,
        message_id="abc@mail.example.org",
        text="Hej Bob,\nline two with a very long line " + "x" * 200,
        html="<p>Hej <b>Bob</b></p>",
        headers=[("X-Campaign", "42")],
    )
    parsed = _parse(mail.to_bytes())
    assert parsed["From"].addresses[0].display_name == "Åsa Öberg"
    assert parsed["To"].addresses[0].display_name == "Bob, the Builder"
    assert parsed["Cc"] == "carol@example.net"
    assert parsed["Reply-To"] == "help@example.org"
    assert parsed["Subject"] == "Välkommen — a long subject " * 5
    assert parsed["Message-ID"] == "<abc@mail.example.org>"
    assert parsed["X-Campaign"] == "42"
    assert parsed.get_content_type() == "multipart/alternative"
    plain = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert plain is not None and html is not None
    assert _lf(plain.get_content()) == "Hej Bob,\nline two with a very long line " + "x" * 200
    assert _lf(html.get_content()) == "<p>Hej <b>Bob</b></p>"
    assert all(len(line) <= 998 for line in mail.to_bytes().split(b"\r\n"))


def test_it_derives_text_from_html():
    mail = OutgoingMail(
        from_email="a@example.org",
        to=[("b@example.org", "")],
        subject="s",
        message_id="1@x",
        html="<style>p{}</style><h1>News</h1><p>Read <a href='https://example.org/x'>more</a></p>",
    )
    plain = _parse(mail.to_bytes()).get_body(("plain",))
    assert plain is not None
    assert _lf(plain.get_content()) == "News\n\nRead more (https://example.org/x)\n"


def test_it_attaches_files():
    mail = OutgoingMail(
        from_email="a@example.org",
        to=[("b@example.org", "")],
        subject="s",
        message_id="1@x",
        text="see attached",
        attachments=[Attachment("rapport å.pdf", b"%PDF-1.4\x00\xff" * 100, "application/pdf")],
    )
    parsed = _parse(mail.to_bytes())
    assert parsed.get_content_type() == "multipart/mixed"
    (attachment,) = list(parsed.iter_attachments())
    assert attachment.get_filename() == "rapport å.pdf"
    assert attachment.get_content() == b"%PDF-1.4\x00\xff" * 100


@pytest.mark.parametrize(
    "field",
    [
        {"subject": "hi\r\nBcc: victim@example.org"},
        {"from_name": "x\nBcc: y@example.org"},
        {"headers": [("X-Ok", "a\x00b")]},
        {"headers": [("X-Bad\r\nBcc", "v")]},
        {"to": [("b@example.org\r\nBcc: c@example.org", "")]},
    ],
)
def test_it_refuses_header_injection(field):
    values = {"from_email": "a@example.org", "to": [("b@example.org", "")], "subject": "s", "message_id": "1@x"}
    values.update(field)
    with pytest.raises(HeaderInjection):
        OutgoingMail(**values, text="t").to_bytes()


def test_quoted_printable_lines_stay_within_76_characters_and_decode_to_the_text():
    # binascii.b2a_qp made lines of 77-78 characters when one ended in a space or tab that it
    # then encoded (=20, =09): about 1 in 400 of these texts.
    rng = random.Random(76)
    pieces = ["a", "b", " ", "\t", "=", ".", "é", "x", "\n", "  "]
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(60, 300)))
        encoded = _qp(text)
        assert all(len(line) <= 76 for line in encoded.split(b"\r\n")), encoded
        assert binascii.a2b_qp(encoded.replace(b"\r\n", b"\n")).decode() == text


def test_plain_ascii_takes_the_fast_path_with_the_same_rules():
    # Text of printable ASCII, tabs and line breaks is encoded without binascii.b2a_qp
    # (openesp.delivery.mime._qp_plain): long lines with escapes near every possible cut.
    rng = random.Random(2045)
    pieces = ["a", "b", " ", "\t", "=", ".", "x", "\n", "  ", "==", "word " * 20, "=" * 80, "y" * 150]
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 60)))
        encoded = _qp(text)
        lines = encoded.split(b"\r\n")
        assert all(len(line) <= 76 for line in lines), encoded
        assert not any(line.endswith((b" ", b"\t")) for line in lines), encoded
        assert not encoded.replace(b"\r\n", b"").translate(None, bytes(range(32, 127)) + b"\t"), encoded
        assert b"\n" not in encoded.replace(b"\r\n", b""), encoded  # every line break is CRLF
        assert binascii.a2b_qp(encoded.replace(b"\r\n", b"\n")).decode() == text


def test_a_few_other_bytes_take_the_fast_path_with_the_same_rules():
    # English with a "·", an "é" or a control character here and there (openesp.delivery.mime
    # _qp_plain with its odd bytes): their escapes near every possible cut of a long line.
    rng = random.Random(2047)
    odd = ["·", "é", "😀", "\x0c", "\x7f", "\x00"]
    pieces = ["a", " ", "\t", "=", ".", "\n", "word " * 20, "=" * 80, "y" * 150, "x" * 73, "z" * 74]
    fast = 0
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 60)))
        for _ in range(rng.randint(1, 4)):
            at = rng.randint(0, len(text))
            text = text[:at] + rng.choice(odd) + text[at:]
        data = text.encode()
        fast += len(data.translate(None, _PLAIN)) * _FEW <= len(data)
        encoded = _qp(text)
        lines = encoded.split(b"\r\n")
        assert all(len(line) <= 76 for line in lines), encoded
        assert not any(line.endswith((b" ", b"\t")) for line in lines), encoded
        assert not encoded.replace(b"\r\n", b"").translate(None, bytes(range(32, 127)) + b"\t"), encoded
        assert b"\n" not in encoded.replace(b"\r\n", b""), encoded
        assert binascii.a2b_qp(encoded.replace(b"\r\n", b"\n")).decode() == text
    assert fast > 2500  # most of them took the fast path: the test is about it


def test_control_characters_are_escaped():
    assert _qp("page\x0cbreak\x00") == b"page=0Cbreak=00"
    assert _qp("a = b\n") == b"a =3D b\r\n"
