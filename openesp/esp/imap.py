"""The IMAP client of a custom SMTP configuration's bounce mailbox, through the SSRF guard.

The host is resolved and checked by ``netguard`` exactly like the SMTP host (private and
loopback addresses refused unless ``OPENESP_ALLOW_PRIVATE_SMTP_HOSTS``), and ``imaplib`` gets
the connection to the checked address, so it never resolves the name itself; TLS is verified
against the name the user typed, with the trust store of the SMTP client
(``OPENESP_SMTP_CA_FILE``, ``OPENESP_SMTP_TLS_VERIFY``). The password is only sent over TLS:
implicit (993) or STARTTLS (143), never plain LOGIN.
"""

from __future__ import annotations

import base64
import contextlib
import imaplib
import socket
import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings

from openesp.esp.providers.smtp import tls_context
from openesp.lib import netguard

if TYPE_CHECKING:
    from openesp.esp.models import EspConfig

IMAP_PORTS = (993, 143)  # the ports allowed unless OPENESP_SMTP_ALLOW_ANY_PORT
DEFAULT_PORTS = {"tls": 993, "starttls": 143}


@dataclass(frozen=True)
class Mailbox:
    host: str
    port: int
    security: str  # "tls" or "starttls"
    username: str
    password: str = field(default="", repr=False)
    folder: str = "INBOX"


class ImapFailed(Exception):
    """The mailbox could not be read; ``step`` says where (resolve, connect, tls, auth, folder,
    fetch), the message says why, for people, never with the password."""

    def __init__(self, message: str, *, step: str) -> None:
        super().__init__(message)
        self.step = step


def check_port(port: int) -> None:
    if not 1 <= port <= 65535:
        raise netguard.HostRefused(f"{port} is not a valid port number")
    if settings.OPENESP_SMTP_ALLOW_ANY_PORT or port in IMAP_PORTS:
        return
    raise netguard.HostRefused(f"port {port} is not allowed; use 993 (TLS) or 143 (STARTTLS)")


def mailbox_for(config: EspConfig) -> Mailbox:
    """A saved config's bounce mailbox; the password is decrypted here, on use."""
    security = config.imap_security or "tls"
    return Mailbox(
        host=config.imap_host,
        port=config.imap_port or DEFAULT_PORTS.get(security, 993),
        security=security,
        username=config.imap_username,
        password=config.get_imap_password(),
        folder=config.imap_folder or "INBOX",
    )


def folder_name(folder: str) -> str:
    """A folder name as IMAP wants it: modified UTF-7 (RFC 3501 5.1.3), quoted."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).rstrip(b"=").replace(b"/", b",")
            out.append("&" + encoded.decode("ascii") + "-")
            pending.clear()

    for char in folder:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    text = "".join(out)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _GuardedImap(imaplib.IMAP4):
    """imaplib over a connection to the address the guard checked (for STARTTLS)."""

    def __init__(self, target: netguard.Target, timeout: float) -> None:
        self._target = target
        super().__init__(target.host, target.port, timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return netguard.connect(self._target, timeout or settings.OPENESP_IMAP_TIMEOUT)


class _GuardedImapTls(imaplib.IMAP4_SSL):
    """imaplib with implicit TLS over a connection to the address the guard checked."""

    def __init__(self, target: netguard.Target, context: ssl.SSLContext, timeout: float) -> None:
        self._target = target
        super().__init__(target.host, target.port, ssl_context=context, timeout=timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = netguard.connect(self._target, timeout or settings.OPENESP_IMAP_TIMEOUT)
        try:
            # Certificates are checked against the name the user typed (Target.host).
            wrapped: socket.socket = self.ssl_context.wrap_socket(sock, server_hostname=self.host)
            return wrapped
        except BaseException:
            sock.close()
            raise


def _reply(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = " ".join(str(value).split())
    if text.startswith(("b'", 'b"')):
        text = text[2:-1]
    return text[:200]


def open_mailbox(
    mailbox: Mailbox, *, readonly: bool = False, timeout: float | None = None
) -> tuple[imaplib.IMAP4, int]:
    """Connect, log in and select the folder; the client and the folder's message count.

    The caller logs out. Every failure is an ImapFailed naming its step.
    """
    timeout = timeout or settings.OPENESP_IMAP_TIMEOUT
    step = "resolve"
    try:
        check_port(mailbox.port)
        target = netguard.resolve(mailbox.host, mailbox.port, smtp_port=False)
    except netguard.HostRefused as exc:
        raise ImapFailed(str(exc), step=step) from None
    except netguard.ResolveFailed as exc:
        raise ImapFailed(str(exc), step=step) from None
    where = f"{mailbox.host} port {mailbox.port}"
    client: imaplib.IMAP4 | None = None
    try:
        if mailbox.security == "tls":
            step = "tls"
            client = _GuardedImapTls(target, tls_context(), timeout)
        elif mailbox.security == "starttls":
            step = "connect"
            client = _GuardedImap(target, timeout)
            step = "tls"
            if "STARTTLS" not in client.capabilities:
                raise ImapFailed(f"{mailbox.host} does not offer STARTTLS; use port 993 with TLS", step="tls")
            client.starttls(tls_context())
        else:
            raise ImapFailed("the connection must use TLS or STARTTLS", step="tls")
        step = "auth"
        client.login(mailbox.username, mailbox.password)
        step = "folder"
        status, data = client.select(folder_name(mailbox.folder), readonly=readonly)
        if status != "OK":
            raise ImapFailed(
                f"the folder {mailbox.folder!r} cannot be opened: {_reply(data[0] if data else '')}", step=step
            )
        count = int(data[0]) if data and data[0] and str(data[0], "ascii", "replace").isdigit() else 0
        return client, count
    except ImapFailed:
        _close(client)
        raise
    except TimeoutError:
        _close(client)
        raise ImapFailed(f"{where} did not answer within {timeout:g} seconds", step=step) from None
    except ConnectionRefusedError:
        raise ImapFailed(f"{where} refused the connection (nothing listens there)", step="connect") from None
    except ssl.SSLError as exc:
        _close(client)
        reason = exc.verify_message if isinstance(exc, ssl.SSLCertVerificationError) else (exc.reason or str(exc))
        raise ImapFailed(f"TLS with {mailbox.host} failed: {reason}", step="tls") from None
    except imaplib.IMAP4.error as exc:
        _close(client)
        if step == "auth":
            raise ImapFailed(f"the server refused the user name or password: {_reply(exc)}", step=step) from None
        raise ImapFailed(f"the server answered: {_reply(exc)}", step=step) from None
    except OSError as exc:
        _close(client)
        raise ImapFailed(f"could not connect to {where}: {exc.strerror or exc}", step="connect") from None


def _close(client: imaplib.IMAP4 | None) -> None:
    if client is None:
        return
    with contextlib.suppress(OSError, imaplib.IMAP4.error):
        client.logout()


def close(client: imaplib.IMAP4) -> None:
    """Log out, ignoring a connection already gone."""
    _close(client)


def search_uids(client: imaplib.IMAP4, criteria: str) -> list[int]:
    status, data = client.uid("SEARCH", criteria)
    if status != "OK":
        raise ImapFailed(f"the server refused SEARCH: {_reply(data[0] if data else '')}", step="fetch")
    found = data[0].split() if data and data[0] else []
    return sorted(int(uid) for uid in found if uid.isdigit())


def fetch(client: imaplib.IMAP4, uid: int, limit: int) -> bytes | None:
    """One message's bytes (at most ``limit``), without marking it seen; None when it is gone."""
    status, data = client.uid("FETCH", str(uid), f"(BODY.PEEK[]<0.{limit}>)")
    if status != "OK":
        raise ImapFailed(f"the server refused FETCH: {_reply(data[0] if data else '')}", step="fetch")
    for item in data:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def mark_seen(client: imaplib.IMAP4, uids: list[int]) -> None:
    if uids:
        client.uid("STORE", ",".join(str(u) for u in uids), "+FLAGS.SILENT", "(\\Seen)")
