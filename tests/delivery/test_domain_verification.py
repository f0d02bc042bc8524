"""A workspace's sending domain is a sender only once its DKIM record is published in DNS."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from openesp.delivery.domains import add_dkim_key, verify_domain
from openesp.messaging.senders import add_sending_domain, may_send_from

pytestmark = pytest.mark.django_db


def test_it_verifies_a_domain_whose_record_is_published(workspace, dns_server):
    domain = add_sending_domain("mail.acme.example", workspace)
    _record, key = add_dkim_key(domain, algorithm="rsa", selector="s1")
    assert not may_send_from("news@mail.acme.example", workspace.pk)

    verified, detail = verify_domain(domain)
    assert not verified
    assert "s1._domainkey.mail.acme.example: no TXT record found" in detail

    dns_server.publish("s1._domainkey.mail.acme.example", key.dns_record())  # 392 characters: split
    verified, detail = verify_domain(domain)
    assert verified, detail
    domain.refresh_from_db()
    assert domain.verified_at is not None
    assert may_send_from("news@mail.acme.example", workspace.pk)
    assert dns_server.queries == ["s1._domainkey.mail.acme.example"] * 2


def test_it_refuses_someone_elses_key(workspace, dns_server):
    domain = add_sending_domain("mail.acme.example", workspace)
    add_dkim_key(domain, algorithm="ed25519", selector="s1")
    other = add_dkim_key(add_sending_domain("other.example", workspace), algorithm="ed25519", selector="s1")[1]
    dns_server.publish("s1._domainkey.mail.acme.example", other.dns_record())
    verified, detail = verify_domain(domain)
    assert not verified
    assert "a different key is published" in detail
    assert not may_send_from("news@mail.acme.example", workspace.pk)


def test_it_trusts_the_operators_domains(db):
    add_sending_domain("operator.example")
    assert may_send_from("x@operator.example", None)


def test_it_verifies_from_the_command_line(workspace, dns_server, capsys):
    domain = add_sending_domain("mail.acme.example", workspace)
    _record, key = add_dkim_key(domain, algorithm="ed25519", selector="s1")
    with pytest.raises(CommandError, match="no TXT record found"):
        call_command("dkim", "verify", "mail.acme.example", "--workspace", str(workspace.pk))
    dns_server.publish("s1._domainkey.mail.acme.example", key.dns_record())
    call_command("dkim", "verify", "mail.acme.example", "--workspace", str(workspace.pk))
    assert "is verified" in capsys.readouterr().out
