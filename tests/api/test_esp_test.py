"""``POST /api/v1/esp/test`` against real servers on loopback: an aiosmtpd server with
STARTTLS + AUTH, and local stand-ins for SendGrid."""

from __future__ import annotations

import pytest

from tests.api.conftest import OTHER_PASSWORD, SMTP_PASSWORD
from tests.servers.smtp import closed_port

pytestmark = pytest.mark.django_db

TEST = "/api/v1/esp/test"


@pytest.fixture
def server(make_smtp_server):
    # The server's password is the one the leak guard looks for in every response.
    return make_smtp_server("starttls", username="mailer", password=SMTP_PASSWORD)


def _body(server, **change):
    return {
        "kind": "smtp",
        "host": server.host,
        "port": server.port,
        "security": server.security,
        "from_email": "news@example.com",
        "username": "mailer",
        "password": SMTP_PASSWORD,
        **change,
    }


def test_it_sends_a_test_mail_to_the_caller(alice_api, server):
    response = alice_api.post(TEST, _body(server))
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"ok", "step", "detail"}
    assert (body["ok"], body["step"]) == (True, "done"), body
    [message] = server.messages
    assert message.rcpt_tos == ["alice@example.org"]
    assert message.mail_from == "news@example.com"
    assert message.tls and message.authenticated_as == "mailer"


def test_it_names_the_failed_step(alice_api, server):
    body = alice_api.post(TEST, _body(server, password=OTHER_PASSWORD)).json()
    assert (body["ok"], body["step"]) == (False, "auth")
    assert "535" in body["detail"]
    assert not server.messages


def test_it_reports_a_closed_port_at_the_connect_step(alice_api, server):
    body = alice_api.post(TEST, _body(server, port=closed_port())).json()
    assert (body["ok"], body["step"]) == (False, "connect")


def test_it_refuses_invalid_fields_with_422(alice_api, server):
    response = alice_api.post(TEST, _body(server, host="smtp.gmail.com"))
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["host"]
    response = alice_api.post(TEST, {"host": "smtp.example.com"})
    assert response.json()["errors"][0]["field"] == "kind"
    response = alice_api.post(TEST, {"config_id": 1, "kind": "smtp"})
    assert response.json()["errors"][0]["field"] == "config_id"


def test_it_tests_a_saved_personal_config(alice_api, alice, server):
    config_id = alice_api.put("/api/v1/esp/personal", _body(server)).json()["id"]
    body = alice_api.post(TEST, {"config_id": config_id}).json()
    assert (body["ok"], body["step"]) == (True, "done"), body
    # An unsaved config may lean on the stored password when it names the same host.
    body = alice_api.post(TEST, _body(server, password=None)).json()
    assert body["ok"], body
    assert len(server.messages) == 2


def test_it_does_not_send_a_stored_password_to_another_host(alice_api, server):
    alice_api.put("/api/v1/esp/personal", _body(server))
    response = alice_api.post(TEST, _body(server, host="localhost", password=None))
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["password"]


def test_it_tests_the_organization_config_for_managers_only(alice_api, bob_api, org, server):
    config_id = alice_api.put(f"/api/v1/organizations/{org.pk}/esp", _body(server)).json()["id"]
    body = alice_api.post(TEST, {"config_id": config_id}).json()
    assert (body["ok"], body["step"]) == (True, "done"), body
    assert server.messages[-1].rcpt_tos == ["alice@example.org"]
    # With "organization", an edited form uses the organization's stored password.
    body = alice_api.post(TEST, _body(server, password=None, organization=org.pk)).json()
    assert body["ok"], body
    assert bob_api.post(TEST, {"config_id": config_id}).status_code == 403
    assert bob_api.post(TEST, _body(server, password=None, organization=org.pk)).status_code == 403
    assert len(server.messages) == 2


def test_it_hides_another_users_personal_config(alice_api, bob_api, server):
    config_id = alice_api.put("/api/v1/esp/personal", _body(server)).json()["id"]
    response = bob_api.post(TEST, {"config_id": config_id})
    assert response.json() == {"error": "not_found", "detail": "provider config not found"}
    assert not server.messages


def test_it_tests_a_standard_provider(alice_api, sendgrid_server):
    body = alice_api.post(TEST, {"kind": "sendgrid"}).json()
    assert (body["ok"], body["step"]) == (True, "done"), body
    [sent] = sendgrid_server.requests_to("POST", "/v3/mail/send")
    assert "alice@example.org" in str(sent.json())
    assert sendgrid_server.api_key not in str(body)


def test_it_reports_bad_operator_credentials(alice_api, sendgrid_server, settings):
    settings.OPENESP_SENDGRID_API_KEY = "SG.wrong"
    body = alice_api.post(TEST, {"kind": "sendgrid"}).json()
    assert (body["ok"], body["step"]) == (False, "credentials")
    assert "SG.wrong" not in str(body)
