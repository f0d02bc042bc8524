"""The delivery SMTP client: pipelined transactions, dot-stuffing, TLS and AUTH."""

from __future__ import annotations

import asyncio
import socket

import aiosmtplib
import pytest

from openesp.delivery.smtpclient import SmtpConnection
from openesp.esp.providers.smtp import Progress, SmtpServer
from tests.servers.flaky import FlakySmtpServer

MESSAGE = b"Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\nlast line"


def _run(server: SmtpServer, work):
    async def go():
        sock = socket.create_connection((server.host, server.port), timeout=5)
        connection = await SmtpConnection.open(server, sock, Progress())
        try:
            return await work(connection)
        finally:
            await connection.quit()

    return asyncio.run(go())


@pytest.mark.parametrize("pipelining", [True, False])
def test_it_sends_with_and_without_pipelining(pipelining, settings):
    flaky = FlakySmtpServer(pipelining=pipelining).start()
    try:
        server = SmtpServer(flaky.host, flaky.port, "none", guarded=False)

        async def work(connection: SmtpConnection):
            assert ("pipelining" in connection.extensions) == pipelining
            first = await connection.send("a@example.org", ("b@example.net",), MESSAGE, Progress())
            second = await connection.send("a@example.org", ("c@example.net",), MESSAGE, Progress())
            return first, second

        first, second = _run(server, work)
        assert first.detail.startswith("250") and second.detail.startswith("250")
        # The MTA's queue id is the provider message id.
        assert (first.provider_message_id, second.provider_message_id) == ("Q00001", "Q00002")
        # Dot-stuffed on the wire (this server keeps the stuffing), with the final line break added.
        assert [r for r, _ in flaky.received] == ["b@example.net", "c@example.net"]
        assert b"\r\n..leading dot\r\n...two dots\r\nlast line\r\n" in flaky.received[0][1]
    finally:
        flaky.stop()


def test_it_reports_a_refused_recipient_and_keeps_the_session(settings):
    flaky = FlakySmtpServer(refuse={"x@example.net": "550 5.1.1 No such user"}).start()
    try:
        server = SmtpServer(flaky.host, flaky.port, "none", guarded=False)

        async def work(connection: SmtpConnection):
            with pytest.raises(aiosmtplib.SMTPRecipientRefused) as info:
                await connection.send("a@example.org", ("x@example.net",), MESSAGE, Progress())
            assert info.value.code == 550
            await connection.rset()
            return await connection.send("a@example.org", ("ok@example.net",), MESSAGE, Progress())

        assert _run(server, work).detail.startswith("250")
        assert [r for r, _ in flaky.received] == ["ok@example.net"]
    finally:
        flaky.stop()


def test_it_uses_starttls_and_auth(smtp_server):
    server = SmtpServer(
        smtp_server.host, smtp_server.port, "starttls", smtp_server.username, smtp_server.password, guarded=False
    )

    async def work(connection: SmtpConnection):
        return await connection.send("a@example.org", ("b@example.net",), MESSAGE, Progress())

    _run(server, work)
    (received,) = smtp_server.messages
    assert received.tls and received.authenticated_as == "mailer"
    assert received.data.startswith(b"Subject: dots")


def test_it_refuses_to_send_a_password_in_clear(make_smtp_server):
    careless = make_smtp_server("none", auth_require_tls=False)
    server = SmtpServer(careless.host, careless.port, "none", "mailer", careless.password, guarded=False)
    with pytest.raises(Exception, match="not encrypted"):
        _run(server, lambda c: asyncio.sleep(0))
    assert careless.auth_attempts == []
