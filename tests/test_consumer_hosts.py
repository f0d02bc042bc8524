"""Consumer mailbox services are refused as custom SMTP hosts; look-alike names are not."""

from __future__ import annotations

import pytest

from openesp.esp.actions import EspInput, validate
from openesp.esp.consumer import consumer_service
from openesp.lib.errors import InvalidInput

CONSUMER_HOSTS = [
    "smtp.gmail.com",
    "gmail.com",
    "smtp.googlemail.com",
    "smtp-mail.outlook.com",
    "smtp.office365.com",
    "outlook.office365.com",
    "smtp.live.com",
    "smtp.hotmail.com",
    "smtp.mail.yahoo.com",
    "smtp.mail.me.com",
    "smtp.icloud.com",
    "smtp.aol.com",
    "mail.gmx.net",
    "smtp.gmx.com",
    "smtp.web.de",
    "smtp.mail.ru",
    "smtp.yandex.ru",
    "smtp.yandex.com",
    "smtp.zoho.com",
    "smtp.zoho.eu",
    "smtp.protonmail.ch",
    "smtp.proton.me",
    "proton.me",
    "SMTP.Gmail.COM.",  # case and a trailing dot change nothing
]

BUSINESS_HOSTS = [
    "gmail.example.com",
    "notgmail.com",
    "mail.acme-outlook.org",
    "smtp.sendgrid.net",
    "in-v3.mailjet.com",
    "yahoo.com.example.org",
    "outlook.acme.example",
    "mygmx.net",
]


@pytest.mark.parametrize("host", CONSUMER_HOSTS)
def test_it_refuses_consumer_mailbox_services(host):
    with pytest.raises(InvalidInput) as caught:
        validate(EspInput(kind="smtp", host=host, from_email="me@acme.example.com"))

    reason = caught.value.as_dict()["host"]
    assert "does not allow bulk mail" in reason
    assert consumer_service(host) in reason


@pytest.mark.parametrize("host", BUSINESS_HOSTS)
def test_it_accepts_names_that_only_look_like_consumer_services(host):
    assert consumer_service(host) is None
    clean = validate(EspInput(kind="smtp", host=host, from_email="me@acme.example.com"))

    assert clean is not None
    assert clean.host == host


def test_it_refuses_a_consumer_host_given_as_a_url():
    with pytest.raises(InvalidInput) as caught:
        validate(EspInput(kind="smtp", host="smtps://smtp.gmail.com:465", from_email="me@acme.example.com"))

    assert "bulk mail" in caught.value.as_dict()["host"]
