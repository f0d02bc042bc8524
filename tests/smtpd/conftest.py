"""The submission server on loopback in a thread of the test process, on free ports, with a
self-signed certificate in a temporary directory; and a key that may send."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from openesp.accounts.apikeys import create_api_key
from openesp.accounts.models import User
from openesp.smtpd.server import Listener, serve
from openesp.smtpd.tls import Certificate, self_signed
from tests.processes import HANG

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Submission:
    port: int  # STARTTLS
    tls_port: int  # implicit TLS
    certificate: Certificate

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.certificate.cert_file))
        context.check_hostname = False  # the self-signed certificate names this machine, not 127.0.0.1
        return context

    def starttls(self) -> smtplib.SMTP:
        client = smtplib.SMTP(HOST, self.port, timeout=HANG)
        client.starttls(context=self.client_context())
        return client

    def tls(self) -> smtplib.SMTP_SSL:
        return smtplib.SMTP_SSL(HOST, self.tls_port, timeout=HANG, context=self.client_context())


@pytest.fixture
def submission_server(tmp_path: Path, settings) -> Iterator[Submission]:
    settings.OPENESP_SMTP_HOST = HOST
    certificate = self_signed(tmp_path, "localhost")
    stop = threading.Event()
    bound: list[int] = []
    ready = threading.Event()

    def started(ports: list[int]) -> None:
        bound.extend(ports)
        ready.set()

    ports = [Listener(0, implicit_tls=False), Listener(0, implicit_tls=True)]
    thread = threading.Thread(
        target=lambda: asyncio.run(serve(certificate.context(), stop, started, ports)), daemon=True
    )
    thread.start()
    assert ready.wait(HANG), "the submission server did not start"
    yield Submission(bound[0], bound[1], certificate)
    stop.set()
    thread.join(HANG)


@pytest.fixture
def sending_key(alice: User) -> str:
    """A personal key of alice (verified: she may send from alice@example.org)."""
    _row, raw = create_api_key(alice, scopes=["messages.send"])
    return raw
