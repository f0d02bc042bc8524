"""Bounce-mailbox benchmark: a real dovecot on loopback holding ``--bounces`` DSNs (each about one
message sent through a custom SMTP configuration, matched by our Message-ID) and ``--other``
mails that are no bounce; the poller reads the folder until nothing is new, then the inbox is
processed (messages bounced, addresses suppressed).

    python -m bench.imap_poll --bounces 2000 [--other 200] [--database-url postgres://…]

Needs Debian's dovecot (dovecot-imapd); it reuses the test suite's dovecot fixture
(``tests/servers/imap.py``). Putting the mail in (IMAP APPEND) is not timed. The last line is
``polled_per_second=<float> processed_per_second=<float>``: mails read by the poller per second
(polls back to back), and bounces processed per second.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.site import scratch_site

DSN = (
    "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
    "To: mailer@acme.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
    "Message-ID: <bounce-{n}@mx.example.net>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b{n}"\r\n\r\n'
    "--b{n}\r\nContent-Type: text/plain\r\n\r\nThe mail to <{rcpt}> could not be delivered.\r\n\r\n"
    "--b{n}\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n"
    "Final-Recipient: rfc822; {rcpt}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown\r\n\r\n"
    "--b{n}\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: mailer@acme.example\r\nTo: {rcpt}\r\n"
    "Subject: Hello\r\nMessage-ID: <{msgid}>\r\n\r\n--b{n}--\r\n"
)
OTHER = "From: someone@example.org\r\nTo: mailer@acme.example\r\nSubject: Re: Hello {n}\r\n\r\nThanks!\r\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bounces", type=int, default=2000)
    parser.add_argument("--other", type=int, default=200, help="mails in the folder that are no bounce")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with scratch_site("openesp-bench-imap-", args.database_url or None):
        run(args.bounces, args.other)


def run(bounces: int, other: int) -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from openesp.accounts.models import Organization, User, Workspace
    from openesp.esp.models import EspConfig
    from openesp.events.mailbox import poll_mailbox
    from openesp.events.models import InboxEvent, State
    from openesp.events.process import process_pending
    from openesp.messaging.models import Message, Status
    from tests.servers.certs import make_certificate
    from tests.servers.imap import running_dovecot

    settings.OPENESP_ALLOW_PRIVATE_SMTP_HOSTS = True
    settings.OPENESP_SMTP_ALLOW_ANY_PORT = True
    user = User.objects.create_user("bench@example.org", "x" * 20, name="Bench")
    organization = Organization.objects.create(name="Bench")
    workspace = Workspace.objects.create(organization=organization, name="Bench")
    certificate = make_certificate(Path(tempfile.mkdtemp(prefix="openesp-bench-tls-")))
    settings.OPENESP_SMTP_CA_FILE = str(certificate.ca_file)
    now = timezone.now()
    with running_dovecot(certificate) as server:
        config = EspConfig(kind="smtp", host="smtp.acme.example", from_email="mailer@acme.example", user=user,
                           imap_enabled=True, imap_host=server.host, imap_port=server.tls_port, imap_security="tls",
                           imap_username=server.username)  # fmt: skip
        config.set_imap_password(server.password)
        config.save()
        messages = Message.objects.bulk_create(
            Message(organization=organization, workspace=workspace, user=user, from_email="mailer@acme.example",
                    to_email=f"gone{n}@example.net", subject="Hello", status=Status.SENT, provider_kind="smtp",
                    provider_config=config, sent_at=now)
            for n in range(bounces)
        )  # fmt: skip
        client = server.client()
        for n, message in enumerate(messages):
            msgid = f"{message.public_id}@{settings.OPENESP_MAIL_DOMAIN}"
            client.append("INBOX", "", None, DSN.format(n=n, rcpt=message.to_email, msgid=msgid).encode())
            if other and n % max(1, bounces // other) == 0:
                client.append("INBOX", "", None, OTHER.format(n=n).encode())
        client.logout()
        started = time.perf_counter()
        read = polls = 0
        while True:
            polls += 1
            polled = poll_mailbox(config.pk)
            assert not polled.error, polled.error
            read += polled.read
            if polled.read == 0:
                break
        poll_seconds = time.perf_counter() - started
    started = time.perf_counter()
    while process_pending():
        pass
    process_seconds = time.perf_counter() - started
    done = InboxEvent.objects.filter(state=State.DONE).count()
    bounced = Message.objects.filter(status=Status.BOUNCED).count()
    print(f"polls={polls} read={read} stored={InboxEvent.objects.count()} done={done} bounced={bounced}")
    print(f"poll: {poll_seconds:.2f} s, process: {process_seconds:.2f} s")
    print(f"polled_per_second={read / poll_seconds:.1f} processed_per_second={done / process_seconds:.1f}")


if __name__ == "__main__":
    main()
