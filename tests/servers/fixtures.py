"""pytest fixtures for the loopback test servers. Registered in tests/conftest.py.

SMTP (aiosmtpd; each fixture sets ``OPENESP_SMTP_CA_FILE`` to the test CA and allows loopback):
    smtp_server          STARTTLS offered, AUTH PLAIN/LOGIN only after TLS
    smtp_server_tls      implicit TLS from the first byte (``security="tls"``)
    smtp_server_no_tls   no STARTTLS, no AUTH
    make_smtp_server(security="starttls", *, username="mailer", password=..., auth_require_tls=True)
                         -> SmtpTestServer (auth_require_tls=False: a careless server offering AUTH in clear)
    silent_server        accepts TCP connections and never speaks
    test_certificate     (session) the CA/leaf PEM files the servers use

IMAP (Debian's dovecot; skips the test when it is not installed; sets ``OPENESP_SMTP_CA_FILE``):
    imap_server          implicit TLS and STARTTLS listeners, one user; ``.append(raw, folder)``

DNS (points OPENESP_DNS_SERVERS at it):
    dns_server           answers TXT queries from ``.records``; ``.publish(name, value)``

HTTP APIs (each fixture points openesp's settings at the server and sets the operator key):
    sendgrid_server      POST /v3/mail/send, GET /v3/scopes
    mailjet_server       POST /v3.1/send, GET /v3/REST/myprofile
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from tests.servers.apis import MailjetServer, SendGridServer
from tests.servers.certs import TestCertificate, make_certificate
from tests.servers.dns import TxtDnsServer
from tests.servers.imap import ImapTestServer, running_dovecot
from tests.servers.imap import available as dovecot_available
from tests.servers.smtp import SilentServer, SmtpTestServer


@pytest.fixture(scope="session")
def test_certificate(tmp_path_factory: pytest.TempPathFactory) -> TestCertificate:
    return make_certificate(Path(tmp_path_factory.mktemp("tls")))


@pytest.fixture
def imap_server(settings: SettingsWrapper, test_certificate: TestCertificate) -> Iterator[ImapTestServer]:
    if not dovecot_available():
        pytest.skip("dovecot (Debian's dovecot-imapd) is not installed")
    settings.OPENESP_SMTP_CA_FILE = str(test_certificate.ca_file)
    with running_dovecot(test_certificate) as server:
        yield server


@pytest.fixture
def make_smtp_server(
    test_certificate: TestCertificate, settings: SettingsWrapper
) -> Iterator[Callable[..., SmtpTestServer]]:
    """Start SMTP servers on demand; all are stopped at the end of the test."""
    started: list[SmtpTestServer] = []
    settings.OPENESP_SMTP_CA_FILE = str(test_certificate.ca_file)
    settings.OPENESP_SMTP_TLS_VERIFY = True
    settings.OPENESP_ALLOW_PRIVATE_SMTP_HOSTS = True
    settings.OPENESP_SMTP_ALLOW_ANY_PORT = True

    def make(
        security: str = "starttls",
        *,
        username: str = "mailer",
        password: str = "s3cret-Pa55word!",
        auth_require_tls: bool = True,
    ) -> SmtpTestServer:
        server = SmtpTestServer(
            test_certificate,
            security=security,
            username=username,
            password=password,
            auth_require_tls=auth_require_tls,
        )
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def smtp_server(make_smtp_server: Callable[..., SmtpTestServer]) -> SmtpTestServer:
    return make_smtp_server("starttls")


@pytest.fixture
def smtp_server_tls(make_smtp_server: Callable[..., SmtpTestServer]) -> SmtpTestServer:
    return make_smtp_server("tls")


@pytest.fixture
def smtp_server_no_tls(make_smtp_server: Callable[..., SmtpTestServer]) -> SmtpTestServer:
    return make_smtp_server("none")


@pytest.fixture
def silent_server(settings: SettingsWrapper) -> Iterator[SilentServer]:
    settings.OPENESP_ALLOW_PRIVATE_SMTP_HOSTS = True
    settings.OPENESP_SMTP_ALLOW_ANY_PORT = True
    server = SilentServer().start()
    yield server
    server.stop()


@pytest.fixture
def sendgrid_server(settings: SettingsWrapper) -> Iterator[SendGridServer]:
    server = SendGridServer()
    server.start()
    settings.OPENESP_SENDGRID_API_URL = server.url
    settings.OPENESP_SENDGRID_API_KEY = server.api_key
    yield server
    server.stop()


@pytest.fixture
def mailjet_server(settings: SettingsWrapper) -> Iterator[MailjetServer]:
    server = MailjetServer()
    server.start()
    settings.OPENESP_MAILJET_API_URL = server.url
    settings.OPENESP_MAILJET_API_KEY = server.api_key
    settings.OPENESP_MAILJET_SECRET_KEY = server.secret_key
    yield server
    server.stop()


@pytest.fixture
def dns_server(settings: SettingsWrapper) -> Iterator[TxtDnsServer]:
    server = TxtDnsServer().start()
    settings.OPENESP_DNS_SERVERS = [f"127.0.0.1:{server.port}"]
    settings.OPENESP_DNS_TIMEOUT = 3
    yield server
    server.stop()
