"""Personal and organization provider configs, the effective provider, egress information."""

from __future__ import annotations

import pytest

from openesp.esp.models import EspConfig
from tests.api.conftest import OTHER_PASSWORD, SMTP_PASSWORD

pytestmark = pytest.mark.django_db

PERSONAL = "/api/v1/esp/personal"
EFFECTIVE = "/api/v1/esp/effective"
# "fallback" (failover) is the one key added since these tests were written.
CONFIG_KEYS = {"id", "kind", "host", "port", "security", "from_email", "username", "password", "fallback", "updated_at"}


@pytest.fixture(autouse=True)
def _operator_runs_both(settings):
    settings.OPENESP_SENDGRID_API_KEY = "SG.operator-key"
    settings.OPENESP_SENDGRID_SENDING_DOMAIN = "mail.example.com"
    settings.OPENESP_MAILJET_API_KEY = "mj-key"
    settings.OPENESP_MAILJET_SECRET_KEY = "mj-secret"
    settings.OPENESP_DEFAULT_PROVIDER = ""


def _org_esp(org) -> str:
    return f"/api/v1/organizations/{org.pk}/esp"


# --- personal ---------------------------------------------------------------------------------


def test_it_answers_404_when_no_personal_provider_is_set(alice_api):
    response = alice_api.get(PERSONAL)
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "no personal provider is set"}


def test_it_saves_a_personal_smtp_config(alice_api, alice, smtp_body):
    response = alice_api.put(PERSONAL, smtp_body)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == CONFIG_KEYS
    assert {k: body[k] for k in ("kind", "host", "port", "security", "from_email", "username", "password")} == {
        "kind": "smtp",
        "host": "smtp.example.com",
        "port": 587,
        "security": "starttls",
        "from_email": "news@example.com",
        "username": "mailer",
        "password": "set",
    }
    config = EspConfig.objects.get(user=alice)
    assert config.get_password() == SMTP_PASSWORD
    assert SMTP_PASSWORD not in config.password_encrypted
    assert alice_api.get(PERSONAL).json() == body


def test_it_keeps_the_stored_password_when_none_is_sent(alice_api, alice, smtp_body):
    alice_api.put(PERSONAL, smtp_body)
    del smtp_body["password"]
    smtp_body["from_email"] = "other@example.com"
    assert alice_api.put(PERSONAL, smtp_body).json()["password"] == "set"
    assert EspConfig.objects.get(user=alice).get_password() == SMTP_PASSWORD
    alice_api.put(PERSONAL, {**smtp_body, "password": None})
    assert EspConfig.objects.get(user=alice).get_password() == SMTP_PASSWORD
    alice_api.put(PERSONAL, {**smtp_body, "password": OTHER_PASSWORD})
    assert EspConfig.objects.get(user=alice).get_password() == OTHER_PASSWORD


def test_it_removes_the_password_when_empty(alice_api, alice, smtp_body):
    alice_api.put(PERSONAL, smtp_body)
    response = alice_api.put(PERSONAL, {**smtp_body, "username": "", "password": ""})
    assert response.status_code == 200, response.content
    assert response.json()["password"] == "not set"
    assert not EspConfig.objects.get(user=alice).has_password


def test_it_accepts_a_url_as_host(alice_api):
    body = alice_api.put(PERSONAL, {"kind": "smtp", "host": "smtps://smtp.example.com", "from_email": "a@example.com"})
    assert (body.json()["host"], body.json()["port"], body.json()["security"]) == ("smtp.example.com", 465, "tls")


def test_it_saves_a_standard_provider_without_smtp_fields(alice_api, alice, smtp_body):
    alice_api.put(PERSONAL, smtp_body)
    response = alice_api.put(PERSONAL, {"kind": "sendgrid"})
    assert response.status_code == 200
    body = response.json()
    assert (body["kind"], body["host"], body["port"], body["password"]) == ("sendgrid", None, None, "not set")
    assert EspConfig.objects.get(user=alice).password_encrypted == ""


def test_it_refuses_an_unavailable_standard_provider(alice_api, settings):
    settings.OPENESP_MAILJET_API_KEY = ""
    response = alice_api.put(PERSONAL, {"kind": "mailjet"})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "kind", "reason": "Mailjet is not available on this server"}]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "postfix"}, "kind"),
        ({"host": ""}, "host"),
        ({"host": "not a host!"}, "host"),
        ({"from_email": "nobody"}, "from_email"),
        ({"security": "none"}, "security"),
        ({"username": ""}, "username"),
        ({"host": "smtp://user:pw@smtp.example.com"}, "host"),
        ({"port": 70000}, "port"),
    ],
)
def test_it_refuses_invalid_input_and_changes_nothing(alice_api, alice, smtp_body, settings, change, field):
    settings.OPENESP_SMTP_ALLOW_ANY_PORT = False
    alice_api.put(PERSONAL, {**smtp_body, "password": OTHER_PASSWORD})
    before = EspConfig.objects.filter(user=alice).values().get()
    response = alice_api.put(PERSONAL, {**smtp_body, **change})
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["error"] == "invalid"
    assert field in [e["field"] for e in body["errors"]]
    assert all(e["reason"] for e in body["errors"])
    assert EspConfig.objects.filter(user=alice).values().get() == before


@pytest.mark.parametrize("host", ["smtp.gmail.com", "smtp-mail.outlook.com", "smtp.mail.yahoo.com", "gmail.com"])
def test_it_refuses_consumer_mailbox_hosts(alice_api, alice, smtp_body, host):
    response = alice_api.put(PERSONAL, {**smtp_body, "host": host})
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["field"] == "host"
    assert "consumer mailbox" in error["reason"]
    assert not EspConfig.objects.filter(user=alice).exists()


@pytest.mark.parametrize("host", ["127.0.0.1", "10.0.0.5", "169.254.169.254", "2130706433", "[::1]"])
def test_it_refuses_private_hosts(alice_api, smtp_body, settings, host):
    settings.OPENESP_ALLOW_PRIVATE_SMTP_HOSTS = False
    response = alice_api.put(PERSONAL, {**smtp_body, "host": host})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["host"]


def test_it_deletes_the_personal_config(alice_api, alice, smtp_body):
    alice_api.put(PERSONAL, smtp_body)
    assert alice_api.delete(PERSONAL).status_code == 204
    assert not EspConfig.objects.filter(user=alice).exists()
    assert alice_api.get(PERSONAL).status_code == 404
    assert alice_api.delete(PERSONAL).status_code == 204


# --- organization -------------------------------------------------------------------------------


def test_it_lets_the_owner_set_the_organization_provider(alice_api, bob_api, org, smtp_body):
    assert alice_api.get(_org_esp(org)).json() == {
        "error": "not_found",
        "detail": "no provider is set for this organization",
    }
    response = alice_api.put(_org_esp(org), {**smtp_body, "enforced": True})
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == CONFIG_KEYS | {"organization_id", "enforced"}
    assert (body["enforced"], body["password"], body["organization_id"]) == (True, "set", org.pk)
    # Members may read it.
    assert bob_api.get(_org_esp(org)).json() == body


def test_it_keeps_enforcement_when_not_sent(alice_api, org, smtp_body):
    alice_api.put(_org_esp(org), {**smtp_body, "enforced": True})
    assert alice_api.put(_org_esp(org), {"kind": "sendgrid"}).json()["enforced"] is True
    assert alice_api.put(_org_esp(org), {"kind": "sendgrid", "enforced": False}).json()["enforced"] is False


def test_it_forbids_members_to_change_the_organization_provider(alice_api, bob_api, org, smtp_body):
    alice_api.put(_org_esp(org), {"kind": "sendgrid"})
    before = EspConfig.objects.filter(organization=org).values().get()
    response = bob_api.put(_org_esp(org), {**smtp_body, "enforced": True})
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert bob_api.delete(_org_esp(org)).status_code == 403
    assert EspConfig.objects.filter(organization=org).values().get() == before


def test_it_lets_an_admin_delete_the_organization_provider(alice_api, org):
    alice_api.put(_org_esp(org), {"kind": "sendgrid"})
    assert alice_api.delete(_org_esp(org)).status_code == 204
    assert not EspConfig.objects.filter(organization=org).exists()


def test_it_validates_the_organization_config(alice_api, org, smtp_body):
    response = alice_api.put(_org_esp(org), {**smtp_body, "host": "smtp.gmail.com", "enforced": True})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["host"]
    assert not EspConfig.objects.filter(organization=org).exists()


def test_it_refuses_a_non_boolean_enforced(alice_api, org):
    response = alice_api.put(_org_esp(org), {"kind": "sendgrid", "enforced": "sometimes"})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["enforced"]


# --- effective ------------------------------------------------------------------------------------


def test_it_shows_the_operator_default(alice_api):
    assert alice_api.get(EFFECTIVE).json() == {
        "kind": "sendgrid",
        "config_id": None,
        "owner": "operator",
        "reason": "the server's default provider",
        "organization_id": None,
    }


def test_it_shows_the_personal_choice(bob_api, bob, smtp_body):
    config_id = bob_api.put(PERSONAL, smtp_body).json()["id"]
    body = bob_api.get(EFFECTIVE).json()
    assert (body["kind"], body["config_id"], body["owner"], body["reason"]) == (
        "smtp",
        config_id,
        "user",
        "your personal setting",
    )


def test_it_shows_an_enforced_organization_provider_to_members(alice_api, bob_api, org, smtp_body):
    bob_api.put(PERSONAL, smtp_body)
    assert bob_api.get(EFFECTIVE, organization=org.pk).json()["owner"] == "user"
    config_id = alice_api.put(_org_esp(org), {"kind": "mailjet", "enforced": True}).json()["id"]
    assert bob_api.get(EFFECTIVE, organization=org.pk).json() == {
        "kind": "mailjet",
        "config_id": config_id,
        "owner": "organization",
        "reason": "enforced by organization Acme",
        "organization_id": org.pk,
    }
    # Outside the organization bob's own choice still holds.
    assert bob_api.get(EFFECTIVE).json()["owner"] == "user"


# --- egress and allow-list information ---------------------------------------------------------------


def test_it_lists_egress_ips_and_standard_providers(alice_api, settings):
    settings.OPENESP_EGRESS_IPS = ["203.0.113.7", "2001:db8::7"]
    settings.OPENESP_SMTP_SOURCE_ADDRESS = "203.0.113.7"
    settings.OPENESP_MAILJET_API_KEY = ""
    body = alice_api.get("/api/v1/esp/egress-ips").json()
    assert body["egress_ips"] == ["203.0.113.7", "2001:db8::7"]
    assert body["source_address"] == "203.0.113.7"
    assert body["providers"] == [
        {
            "kind": "sendgrid",
            "label": "SendGrid",
            "region": "USA",
            "available": True,
            "sending_domain": "mail.example.com",
            "provider_host": "sendgrid.net",
        },
        {
            "kind": "mailjet",
            "label": "Mailjet",
            "region": "EU",
            "available": False,
            "sending_domain": None,
            "provider_host": "mailjet.com",
        },
    ]
    assert "SG.operator-key" not in str(body)


def test_it_says_when_no_source_address_is_set(alice_api, settings):
    settings.OPENESP_EGRESS_IPS = []
    settings.OPENESP_SMTP_SOURCE_ADDRESS = ""
    body = alice_api.get("/api/v1/esp/egress-ips").json()
    assert (body["egress_ips"], body["source_address"]) == ([], None)
