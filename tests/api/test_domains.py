"""``/api/v1/workspaces/{id}/domains`` and ``/api/v1/domains/{id}``: sending domains and DKIM keys."""

from __future__ import annotations

import dkim
import pytest

from openesp.delivery.models import DkimKeyRecord
from openesp.delivery.worker import Worker
from openesp.messaging.models import SendingDomain
from openesp.messaging.senders import add_sending_domain
from tests.api.conftest import api_for

pytestmark = pytest.mark.django_db


def _url(workspace) -> str:
    return f"/api/v1/workspaces/{workspace.pk}/domains"


def test_it_adds_a_domain_whose_published_record_verifies_the_signed_mail(
    alice_api, workspace, settings, smtp_server_no_tls, dns_server
):
    response = alice_api.post(_url(workspace), {"domain": "Shop.Example.", "algorithm": "ed25519", "selector": "s1"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["domain"], body["workspace_id"]) == ("shop.example", workspace.pk)
    record = body["dkim_key"]
    assert (record["dns_name"], record["dns_type"], record["algorithm"]) == (
        "s1._domainkey.shop.example",
        "TXT",
        "ed25519",
    )
    assert record["dns_value"].startswith("v=DKIM1; k=ed25519; p=")
    assert body["dkim_keys"] == [record]
    assert body["verified_at"] is None

    # Not a sender until the record is published and verified.
    settings.OPENESP_DEFAULT_PROVIDER = f"smtp://127.0.0.1:{smtp_server_no_tls.port}?security=none"
    message = {"from": "orders@shop.example", "to": ["r@example.net"], "subject": "Hi", "text": "Hi"}
    assert alice_api.post("/api/v1/messages", {**message, "workspace": workspace.pk}).status_code == 403
    verify = f"/api/v1/domains/{body['id']}/verify"
    assert alice_api.post(verify, {}).json() == {
        "verified": False,
        "detail": "s1._domainkey.shop.example: no TXT record found",
    }
    dns_server.publish(record["dns_name"], record["dns_value"])
    assert alice_api.post(verify, {}).json()["verified"] is True
    assert alice_api.get(_url(workspace)).json()[0]["verified_at"] is not None

    # The address at the domain may now send in the workspace, and what arrives verifies
    # against the record the API told us to publish.
    assert alice_api.post("/api/v1/messages", {**message, "workspace": workspace.pk}).status_code == 202
    worker = Worker("t")
    try:
        assert worker.run_once() == 1
    finally:
        worker.close()
    (received,) = smtp_server_no_tls.messages

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == record["dns_name"].encode() + b"."
        return record["dns_value"].encode()

    assert dkim.verify(received.data, dnsfunc=dns)


def test_it_makes_rsa_keys_by_default_and_adds_keys_to_a_known_domain(alice_api, workspace):
    first = alice_api.post(_url(workspace), {"domain": "shop.example"}).json()
    assert first["dkim_key"]["algorithm"] == "rsa"
    assert first["dkim_key"]["dns_value"].startswith("v=DKIM1; k=rsa; p=")
    second = alice_api.post(_url(workspace), {"domain": "shop.example", "algorithm": "ed25519"})
    assert second.status_code == 201
    assert second.json()["id"] == first["id"]
    assert [k["algorithm"] for k in second.json()["dkim_keys"]] == ["rsa", "ed25519"]

    listed = alice_api.get(_url(workspace)).json()
    assert [(d["domain"], len(d["dkim_keys"])) for d in listed] == [("shop.example", 2)]


def test_it_names_the_field_at_fault_and_leaves_nothing_behind(alice_api, workspace):
    response = alice_api.post(_url(workspace), {"domain": "not a domain"})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["domain"]
    response = alice_api.post(_url(workspace), {"domain": "shop.example", "algorithm": "dsa"})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["algorithm"]

    alice_api.post(_url(workspace), {"domain": "shop.example", "selector": "s1"})
    response = alice_api.post(_url(workspace), {"domain": "other.example", "selector": "s1"})
    assert response.status_code == 201
    response = alice_api.post(_url(workspace), {"domain": "shop.example", "selector": "s1"})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["selector"]
    response = alice_api.post(_url(workspace), {"domain": "third.example", "selector": "Bad_Selector"})
    assert response.status_code == 422
    # The domain of a refused key is not left behind without one.
    assert sorted(SendingDomain.objects.values_list("domain", flat=True)) == ["other.example", "shop.example"]


def test_it_lets_members_read_and_only_managers_change(alice_api, bob_api, workspace):
    created = alice_api.post(_url(workspace), {"domain": "shop.example"}).json()
    assert [d["domain"] for d in bob_api.get(_url(workspace)).json()] == ["shop.example"]
    response = bob_api.post(_url(workspace), {"domain": "bob.example"})
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert bob_api.delete(f"/api/v1/domains/{created['id']}").status_code == 403
    assert SendingDomain.objects.count() == 1


def test_it_removes_a_domain_and_its_keys(alice_api, workspace, dns_server):
    created = alice_api.post(_url(workspace), {"domain": "shop.example"}).json()
    dns_server.publish(created["dkim_key"]["dns_name"], created["dkim_key"]["dns_value"])
    assert alice_api.post(f"/api/v1/domains/{created['id']}/verify", {}).json()["verified"] is True
    message = {"from": "orders@shop.example", "to": ["r@example.net"], "subject": "Hi", "text": "Hi"}
    assert alice_api.post("/api/v1/messages", {**message, "workspace": workspace.pk}).status_code == 202
    assert alice_api.delete(f"/api/v1/domains/{created['id']}").status_code == 204
    assert not SendingDomain.objects.exists() and not DkimKeyRecord.objects.exists()
    assert alice_api.post("/api/v1/messages", {**message, "workspace": workspace.pk}).status_code == 403
    assert alice_api.delete(f"/api/v1/domains/{created['id']}").status_code == 404


def test_it_leaves_the_operators_domains_to_the_operator(alice_api):
    operator = add_sending_domain("openesp.example")
    response = alice_api.delete(f"/api/v1/domains/{operator.pk}")
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "sending domain not found"}
    assert SendingDomain.objects.filter(pk=operator.pk).exists()


def test_it_works_with_a_workspace_key_and_needs_the_esp_scope(alice, workspace):
    key = api_for(alice, workspace=workspace, scopes=["esp"])
    assert key.post(_url(workspace), {"domain": "shop.example"}).status_code == 201
    sender = api_for(alice, scopes=["messages.send"])
    response = sender.get(_url(workspace))
    assert response.status_code == 403
    assert "'esp' scope" in response.json()["detail"]
