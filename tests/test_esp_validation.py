"""Validation and saving of a provider choice: the field at fault and the reason, nothing saved."""

from __future__ import annotations

import pytest
from django.db import connection

from openesp.esp.actions import EspInput, save_personal_config, validate
from openesp.esp.models import EspConfig
from openesp.lib.errors import InvalidInput

FROM = "mail@acme.example.com"
PASSWORD = "Hunter2-but-longer-and-Secret"


def smtp(**fields) -> EspInput:
    values = {"kind": "smtp", "from_email": FROM}
    values.update(fields)
    return EspInput(**values)


def problems(data: EspInput, existing: EspConfig | None = None) -> dict[str, str]:
    with pytest.raises(InvalidInput) as caught:
        validate(data, existing)
    return caught.value.as_dict()


@pytest.fixture(autouse=True)
def _operator_runs_both(settings):
    settings.OPENESP_SENDGRID_API_KEY = "SG.operator"
    settings.OPENESP_MAILJET_API_KEY = "mj-key"
    settings.OPENESP_MAILJET_SECRET_KEY = "mj-secret"


def test_it_reads_a_host_given_as_an_smtp_url():
    clean = validate(smtp(host="smtp://smtp.acme.example.com:587"))

    assert clean is not None
    assert (clean.host, clean.port, clean.security) == ("smtp.acme.example.com", 587, "starttls")


def test_it_reads_smtps_as_implicit_tls_on_465():
    clean = validate(smtp(host="smtps://smtp.acme.example.com"))

    assert clean is not None
    assert (clean.host, clean.port, clean.security) == ("smtp.acme.example.com", 465, "tls")


def test_it_reads_a_port_after_the_host():
    clean = validate(smtp(host="smtp.acme.example.com:2525"))

    assert clean is not None
    assert (clean.host, clean.port, clean.security) == ("smtp.acme.example.com", 2525, "starttls")


@pytest.mark.parametrize(
    ("port", "security", "expected"),
    [(None, "", (587, "starttls")), (465, "", (465, "tls")), (25, "", (25, "none")), (None, "tls", (465, "tls"))],
)
def test_it_fills_in_the_usual_port_and_security(port, security, expected):
    clean = validate(smtp(host="smtp.acme.example.com", port=port, security=security))

    assert clean is not None
    assert (clean.port, clean.security) == expected


def test_it_refuses_two_different_ports():
    assert set(problems(smtp(host="smtp.acme.example.com:2525", port=587))) == {"port"}


@pytest.mark.parametrize(
    ("host", "field"),
    [("ftp://smtp.acme.example.com", "host"), ("smtp://user:pw@smtp.acme.example.com", "host"), ("a:b", "host")],
)
def test_it_refuses_a_malformed_server_url(host, field):
    assert field in problems(smtp(host=host))


def test_it_names_every_missing_field():
    found = problems(EspInput(kind="smtp"))

    assert set(found) == {"host", "from_email"}


def test_it_refuses_a_username_without_a_password():
    assert set(problems(smtp(host="smtp.acme.example.com", username="mailer"))) == {"password"}


def test_it_refuses_a_password_without_a_username():
    assert set(problems(smtp(host="smtp.acme.example.com", password=PASSWORD))) == {"username"}


def test_it_refuses_a_password_over_an_unencrypted_connection():
    found = problems(smtp(host="smtp.acme.example.com", security="none", username="mailer", password=PASSWORD))

    assert set(found) == {"security"}
    assert "encrypted" in found["security"]


def test_it_refuses_an_unknown_security():
    assert "security" in problems(smtp(host="smtp.acme.example.com", security="ssl3"))


def test_it_refuses_a_bad_from_address():
    assert set(problems(smtp(host="smtp.acme.example.com", from_email="not an address"))) == {"from_email"}


def test_it_refuses_a_standard_provider_the_operator_does_not_run(settings):
    settings.OPENESP_MAILJET_SECRET_KEY = ""

    found = problems(EspInput(kind="mailjet"))

    assert "not available" in found["kind"]


def test_it_accepts_a_standard_provider_the_operator_runs():
    assert validate(EspInput(kind="sendgrid")) is None


def test_it_refuses_an_unknown_kind():
    assert "kind" in problems(EspInput(kind="postmark-but-not-configured"))


@pytest.mark.django_db
def test_it_keeps_the_stored_password_when_none_is_given(alice):
    save_personal_config(alice, smtp(host="smtp.acme.example.com", username="mailer", password=PASSWORD))

    config = save_personal_config(alice, smtp(host="smtp.acme.example.com", username="mailer2", password=None))

    config.refresh_from_db()
    assert config.username == "mailer2"
    assert config.get_password() == PASSWORD


@pytest.mark.django_db
def test_it_requires_the_password_again_when_the_host_changes(alice):
    save_personal_config(alice, smtp(host="smtp.acme.example.com", username="mailer", password=PASSWORD))

    with pytest.raises(InvalidInput) as caught:
        save_personal_config(alice, smtp(host="smtp.elsewhere.example.net", username="mailer", password=None))

    assert set(caught.value.as_dict()) == {"password"}
    config = EspConfig.objects.get(user=alice)
    assert config.host == "smtp.acme.example.com"  # nothing changed
    assert config.get_password() == PASSWORD


@pytest.mark.django_db
def test_it_accepts_a_new_host_with_a_new_password(alice):
    save_personal_config(alice, smtp(host="smtp.acme.example.com", username="mailer", password=PASSWORD))

    config = save_personal_config(
        alice, smtp(host="smtp.elsewhere.example.net", username="mailer", password="new-Pa55")
    )

    assert config.get_password() == "new-Pa55"


@pytest.mark.django_db
def test_it_removes_the_password_when_asked(alice):
    save_personal_config(alice, smtp(host="smtp.acme.example.com", username="mailer", password=PASSWORD))

    config = save_personal_config(alice, smtp(host="smtp.acme.example.com", username="", password=""))

    assert not config.has_password
    assert config.password_encrypted == ""


@pytest.mark.django_db
def test_it_forgets_smtp_settings_when_switching_to_a_standard_provider(alice):
    save_personal_config(alice, smtp(host="smtp.acme.example.com", username="mailer", password=PASSWORD))

    config = save_personal_config(alice, EspInput(kind="sendgrid"))

    config.refresh_from_db()
    assert (config.kind, config.host, config.username, config.password_encrypted) == ("sendgrid", "", "", "")


@pytest.mark.django_db
def test_it_stores_the_password_encrypted(alice):
    config = save_personal_config(alice, smtp(host="smtp.acme.example.com", username="mailer", password=PASSWORD))

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT password_encrypted FROM {EspConfig._meta.db_table} WHERE id = %s", [config.pk])
        [(stored,)] = cursor.fetchall()
    assert stored
    assert PASSWORD not in stored
    assert PASSWORD.encode().hex() not in stored
    assert EspConfig.objects.get(pk=config.pk).get_password() == PASSWORD


@pytest.mark.django_db
def test_it_does_not_save_anything_when_validation_fails(alice):
    with pytest.raises(InvalidInput):
        save_personal_config(alice, smtp(host="smtp.gmail.com", username="mailer", password=PASSWORD))

    assert not EspConfig.objects.filter(user=alice).exists()
