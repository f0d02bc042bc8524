"""GET /api/v1/domains/{id}/health: SPF, DKIM, DMARC and the return path, each with what to
publish and what the (loopback) DNS server answered."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def _domain(alice_api, workspace) -> dict:
    response = alice_api.post(f"/api/v1/workspaces/{workspace.pk}/domains", {"domain": "shop.example"})
    assert response.status_code == 201
    return response.json()


def test_it_reports_every_record_missing_with_what_to_publish(alice_api, workspace, dns_server, settings):
    settings.OPENESP_EGRESS_IPS = ["192.0.2.10", "2001:db8::10"]
    settings.OPENESP_BOUNCE_DOMAIN = "bounces.esp.example"
    created = _domain(alice_api, workspace)
    health = alice_api.get(f"/api/v1/domains/{created['id']}/health").json()
    assert set(health) == {"spf", "dkim", "dmarc", "return_path"}
    assert all(set(check) == {"ok", "expected", "found"} and check["ok"] is False for check in health.values())
    assert health["spf"]["expected"].startswith("shop.example TXT v=spf1 ip4:192.0.2.10 ip6:2001:db8::10")
    assert created["dkim_key"]["dns_value"] in health["dkim"]["expected"]
    assert health["dmarc"]["expected"] == "_dmarc.shop.example TXT v=DMARC1; p=none"
    assert health["return_path"]["expected"].startswith("bounces.esp.example MX")


def test_it_finds_the_published_records(alice_api, workspace, dns_server, settings):
    settings.OPENESP_EGRESS_IPS = ["192.0.2.10"]
    settings.OPENESP_BOUNCE_DOMAIN = "bounces.esp.example"
    settings.OPENESP_SENDGRID_API_KEY = "SG.test"  # SendGrid is available: its include is expected
    created = _domain(alice_api, workspace)
    dns_server.publish("shop.example", "v=spf1 ip4:192.0.2.10 include:sendgrid.net ~all")
    dns_server.publish("shop.example", "google-site-verification=abc")
    dns_server.publish(created["dkim_key"]["dns_name"], created["dkim_key"]["dns_value"])
    dns_server.publish("_dmarc.shop.example", "v=DMARC1; p=quarantine; rua=mailto:d@shop.example")
    dns_server.publish_mx("bounces.esp.example", "mx.esp.example")
    health = alice_api.get(f"/api/v1/domains/{created['id']}/health").json()
    assert {name: check["ok"] for name, check in health.items()} == {
        "spf": True, "dkim": True, "dmarc": True, "return_path": True,
    }  # fmt: skip
    assert health["spf"]["found"] == ["shop.example TXT v=spf1 ip4:192.0.2.10 include:sendgrid.net ~all"]
    assert health["return_path"]["found"] == ["bounces.esp.example MX 10 mx.esp.example"]


def test_an_spf_record_without_our_include_or_two_spf_records_are_not_ok(alice_api, workspace, dns_server, settings):
    settings.OPENESP_EGRESS_IPS = ["192.0.2.10"]
    created = _domain(alice_api, workspace)
    dns_server.publish("shop.example", "v=spf1 include:_spf.google.com ~all")
    assert alice_api.get(f"/api/v1/domains/{created['id']}/health").json()["spf"]["ok"] is False
    dns_server.publish("shop.example", "v=spf1 ip4:192.0.2.10 ~all")
    spf = alice_api.get(f"/api/v1/domains/{created['id']}/health").json()["spf"]
    assert spf["ok"] is False and len(spf["found"]) == 2


def test_without_a_bounce_domain_the_return_path_says_so(alice_api, workspace, dns_server, settings):
    settings.OPENESP_BOUNCE_DOMAIN = ""
    created = _domain(alice_api, workspace)
    check = alice_api.get(f"/api/v1/domains/{created['id']}/health").json()["return_path"]
    assert check["ok"] is False and "OPENESP_BOUNCE_DOMAIN" in check["found"][0]
