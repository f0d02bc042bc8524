"""delivery.relayed: what is taken out of and added to a message relayed as it came."""

from __future__ import annotations

from openesp.delivery.relayed import prepare

RAW = (
    b"From: Shop <shop@example.org>\r\nTo: a@example.net\r\nBcc: hidden@example.net\r\n"
    b'X-SMTPAPI: {"category":\r\n "x"}\r\nX-MJ-CustomID: 7\r\nX-Mailjet-TrackOpen: 0\r\n'
    b"Subject: Hi\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nbody\r\nX-SMTPAPI: in the body\r\n"
)


def test_instruction_headers_and_bcc_are_removed_and_the_body_kept():
    out = prepare(RAW, message_id="abc@openesp.example")
    head, body = out.split(b"\r\n\r\n", 1)
    assert b"Bcc" not in head and b"X-SMTPAPI" not in head and b"X-MJ" not in head and b"X-Mailjet" not in head
    assert b' "x"}' not in head  # the folded continuation line went with its field
    assert body == b"body\r\nX-SMTPAPI: in the body\r\n"
    assert b"Message-ID: <abc@openesp.example>\r\n" in head and b"\r\nDate: " in head


def test_the_clients_message_id_and_date_are_kept():
    raw = b"From: a@example.org\r\nMessage-ID: <mine@app>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nx\r\n"
    out = prepare(raw, message_id="ours@openesp.example")
    assert b"<mine@app>" in out and b"ours@" not in out and out.count(b"Date:") == 1


def test_a_custom_servers_from_replaces_the_from_field():
    out = prepare(RAW, message_id="m@x", from_header="Relay <relay@customer.example>")
    assert b"From: Relay <relay@customer.example>\r\n" in out and b"shop@example.org" not in out
