"""A real IMAP server on loopback: Debian's dovecot, with its own configuration in a temporary
directory (one passwd-file user, a maildir, TLS with the test CA's certificate).

Two listeners: implicit TLS (as on port 993) and plain with STARTTLS (as on 143). dovecot
counts loopback as secure and would take LOGIN without TLS there: that openesp never sends it
is openesp's own rule (validation allows only ``tls`` and ``starttls``). Mail is put in with
IMAP APPEND, as a mail server's delivery would leave it (unseen). dovecot runs in the
foreground (``-F``) as a child of the test; as root its processes drop to the owner of the
temporary directory's mail (``mail_uid``), so the same configuration works in CI (root) and as
a normal user.
"""

from __future__ import annotations

import getpass
import imaplib
import os
import pwd
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.servers.certs import TestCertificate
from tests.servers.smtp import LOOPBACK, closed_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
START_TIMEOUT = 60.0  # a hang detector for a loaded machine, not a timing assertion


@dataclass
class ImapTestServer:
    host: str
    tls_port: int  # implicit TLS
    starttls_port: int  # plain, STARTTLS offered
    username: str
    password: str
    certificate: TestCertificate
    log_file: Path

    def client(self) -> imaplib.IMAP4_SSL:
        imap = imaplib.IMAP4_SSL(self.host, self.tls_port, ssl_context=self.certificate.client_context(), timeout=30)
        imap.login(self.username, self.password)
        return imap

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        """Put a mail in ``folder`` (made when missing), unseen."""
        imap = self.client()
        try:
            if folder != "INBOX":
                imap.create(folder)
            status, reply = imap.append(folder, "", None, raw)
            assert status == "OK", reply
        finally:
            imap.logout()

    def flags(self, folder: str = "INBOX") -> list[str]:
        """Each message's flags, in order."""
        imap = self.client()
        try:
            imap.select(folder, readonly=True)
            status, data = imap.fetch("1:*", "(FLAGS)")
            if status != "OK" or data == [None]:
                return []
            return [item.decode() if isinstance(item, bytes) else str(item) for item in data]
        finally:
            imap.logout()


def available() -> bool:
    return os.path.exists(DOVECOT)


def _config(directory: Path, server: ImapTestServer, user: str, uid: int, gid: int) -> str:
    home = directory / "home"
    return f"""
base_dir = {directory}/run
state_dir = {directory}/state
instance_name = openesp-test-{server.tls_port}
log_path = {server.log_file}
info_log_path = {server.log_file}
protocols = imap
listen = {server.host}
ssl = yes
ssl_cert = <{server.certificate.cert_file}
ssl_key = <{server.certificate.key_file}
disable_plaintext_auth = yes
auth_mechanisms = plain login
default_login_user = {user}
default_internal_user = {user}
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:{home}/%u/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {directory}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={home}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = {server.host}
    port = {server.starttls_port}
  }}
  inet_listener imaps {{
    address = {server.host}
    port = {server.tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
service pop3-login {{
  chroot =
}}
service auth {{
  user = {user}
}}
service auth-worker {{
  user = {user}
}}
service stats {{
  unix_listener stats-reader {{
    user = {user}
  }}
  unix_listener stats-writer {{
    user = {user}
  }}
}}
"""


def _mail_owner() -> tuple[str, int, int]:
    """Who dovecot's processes run as: the current user, or (as root, which dovecot refuses for
    mail) the unprivileged ``nobody``."""
    if os.geteuid() != 0:
        return getpass.getuser(), os.getuid(), os.getgid()
    entry = pwd.getpwnam("nobody")
    return entry.pw_name, entry.pw_uid, entry.pw_gid


@contextmanager
def running_dovecot(certificate: TestCertificate) -> Iterator[ImapTestServer]:
    user, uid, gid = _mail_owner()
    # A directory of its own under /tmp, traversable by the unprivileged mail user (pytest's
    # temporary directories are private to their owner, root in CI).
    directory = Path(tempfile.mkdtemp(prefix="openesp-dovecot-"))
    directory.chmod(0o711)
    try:
        with _dovecot_in(directory, certificate, user, uid, gid) as server:
            yield server
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def _dovecot_in(
    directory: Path, certificate: TestCertificate, user: str, uid: int, gid: int
) -> Iterator[ImapTestServer]:
    server = ImapTestServer(
        host=LOOPBACK,
        tls_port=closed_port(),
        starttls_port=closed_port(),
        username="bounces@acme.example",
        password="imap-Pa55-word",
        certificate=certificate,
        log_file=directory / "dovecot.log",
    )
    (directory / "home").mkdir(exist_ok=True)
    (directory / "passwd").write_text(f"{server.username}:{{PLAIN}}{server.password}::::::\n")
    conf = directory / "dovecot.conf"
    conf.write_text(_config(directory, server, user, uid, gid))
    if os.geteuid() == 0:
        # The mail processes run as nobody: the maildirs are theirs.
        os.chown(directory / "home", uid, gid)
    process = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_ready(server, process)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(server: ImapTestServer, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            log = server.log_file.read_text(errors="replace") if server.log_file.exists() else ""
            raise RuntimeError(f"dovecot exited ({process.returncode}): {output}\n{log}")
        try:
            imap = imaplib.IMAP4_SSL(
                server.host, server.tls_port, ssl_context=server.certificate.client_context(), timeout=5
            )
            imap.logout()
            return
        except (OSError, ssl.SSLError, imaplib.IMAP4.error) as exc:
            last = exc
            time.sleep(0.1)
    log = server.log_file.read_text(errors="replace") if server.log_file.exists() else ""
    raise RuntimeError(f"dovecot did not start within {START_TIMEOUT:g} s: {last}\n{log}")
