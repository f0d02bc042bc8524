"""The bounce mailbox through the API: set, read (the password never), test against a real IMAP
server (dovecot), remove; only for custom SMTP; organization members read, managers change."""

from __future__ import annotations

import pytest

from openesp.esp.models import EspConfig
from tests.api.conftest import Api

pytestmark = pytest.mark.django_db
IMAP_SECRET = "imap-api-Secret-9"


def _mailbox(server=None, **fields: object) -> dict[str, object]:
    body: dict[str, object] = {"host": "imap.acme.example", "username": "bounces@acme.example", "password": IMAP_SECRET}
    if server is not None:
        body.update(host=server.host, port=server.tls_port, username=server.username, password=server.password)
    body.update(fields)
    return body


def test_a_personal_mailbox_is_set_read_and_removed(alice, alice_api: Api, smtp_body):
    assert alice_api.put("/api/v1/esp/personal", smtp_body).status_code == 200
    assert alice_api.get("/api/v1/esp/personal/bounce-mailbox").status_code == 404
    response = alice_api.put("/api/v1/esp/personal/bounce-mailbox", _mailbox())
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["port"], body["security"], body["folder"], body["password"], body["enabled"]) == (
        993, "tls", "INBOX", "set", True
    )  # fmt: skip
    assert IMAP_SECRET not in response.content.decode()
    config = EspConfig.objects.get(user=alice)
    assert IMAP_SECRET not in config.imap_password_encrypted and config.get_imap_password() == IMAP_SECRET
    # Without a password the stored one is kept; for another host it must be typed again.
    kept = alice_api.put("/api/v1/esp/personal/bounce-mailbox", _mailbox(password=None, enabled=False))
    assert kept.status_code == 200 and kept.json()["enabled"] is False
    moved = alice_api.put("/api/v1/esp/personal/bounce-mailbox", _mailbox(host="imap.other.example", password=None))
    assert moved.status_code == 422 and moved.json()["errors"][0]["field"] == "password"
    plain = alice_api.put("/api/v1/esp/personal/bounce-mailbox", _mailbox(security="none"))
    assert plain.status_code == 422
    assert alice_api.delete("/api/v1/esp/personal/bounce-mailbox").status_code == 204
    config.refresh_from_db()
    assert (config.imap_host, config.imap_password_encrypted) == ("", "")


def test_only_a_custom_smtp_server_has_a_mailbox(alice_api: Api, settings):
    settings.OPENESP_SENDGRID_API_KEY = "SG.operator-key"
    settings.OPENESP_SENDGRID_SENDING_DOMAIN = "mail.example.com"
    assert alice_api.put("/api/v1/esp/personal", {"kind": "sendgrid"}).status_code == 200
    response = alice_api.put("/api/v1/esp/personal/bounce-mailbox", _mailbox())
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "kind"


def test_members_read_the_organizations_mailbox_and_managers_change_it(org, alice_api: Api, bob_api: Api, smtp_body):
    assert alice_api.put(f"/api/v1/organizations/{org.pk}/esp", smtp_body).status_code == 200
    assert alice_api.put(f"/api/v1/organizations/{org.pk}/esp/bounce-mailbox", _mailbox()).status_code == 200
    read = bob_api.get(f"/api/v1/organizations/{org.pk}/esp/bounce-mailbox")
    assert read.status_code == 200 and read.json()["host"] == "imap.acme.example"
    assert bob_api.put(f"/api/v1/organizations/{org.pk}/esp/bounce-mailbox", _mailbox()).status_code == 403
    assert bob_api.delete(f"/api/v1/organizations/{org.pk}/esp/bounce-mailbox").status_code == 403


def test_the_test_route_logs_in_to_a_real_imap_server(alice_api: Api, smtp_body, imap_server):
    assert alice_api.put("/api/v1/esp/personal", smtp_body).status_code == 200
    config_id = alice_api.get("/api/v1/esp/personal").json()["id"]
    unset = alice_api.post("/api/v1/esp/bounce-mailbox/test", {"config_id": config_id}).json()
    assert (unset["ok"], unset["step"]) == (False, "validate")
    typed = alice_api.post(
        "/api/v1/esp/bounce-mailbox/test", {"config_id": config_id, "mailbox": _mailbox(imap_server)}
    ).json()
    assert (typed["ok"], typed["step"]) == (True, "done"), typed
    assert (
        alice_api.put("/api/v1/esp/personal/bounce-mailbox", _mailbox(imap_server, password="wrong")).status_code == 200
    )
    saved = alice_api.post("/api/v1/esp/bounce-mailbox/test", {"config_id": config_id}).json()
    assert (saved["ok"], saved["step"]) == (False, "auth")
    assert "wrong" not in saved["detail"]
