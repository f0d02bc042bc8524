"""Webhook endpoints and a sending domain's DNS health in headless Chromium, in English and
Swedish: add an endpoint on loopback, copy the secret shown once, send a test event that the
endpoint verifies with the ``standardwebhooks`` package, see it in the delivery log, delete it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from openesp.accounts.models import Membership, Organization, Role, User, Workspace
from openesp.delivery.domains import add_dkim_key
from openesp.hooksout.models import WebhookEndpoint
from openesp.messaging.senders import add_sending_domain
from tests.servers.webhooks import WebhookReceiver

PASSWORD = "correct horse battery staple"
SCREENSHOTS = "/tmp"


@pytest.fixture
def receiver(settings):
    settings.OPENESP_ALLOW_PRIVATE_WEBHOOK_HOSTS = True
    server = WebhookReceiver().start()
    yield server
    server.stop()


def _signed_in(live_server, new_page, locale):
    ada = User.objects.create_user("ada@example.org", PASSWORD, name="Ada", email_verified=True)
    org = Organization.objects.create(name="Acme")
    Membership.objects.create(organization=org, user=ada, role=Role.OWNER)
    workspace = Workspace.objects.create(organization=org, name="Marketing")
    page = new_page(locale)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", ada.email)
    page.fill("#id_password", PASSWORD)
    page.get_by_test_id("login-submit").click()
    return page, workspace


@pytest.mark.parametrize(
    ("locale", "texts"),
    [
        (
            "en-US",
            {"title": "Webhooks", "delivered": "The test event was delivered (HTTP 204).", "status": "Delivered"},
        ),
        ("sv-SE", {"title": "Webhooks", "delivered": "Testhändelsen levererades (HTTP 204).", "status": "Levererad"}),
    ],
)
def test_an_endpoint_is_added_tested_and_deleted(live_server, new_page, transactional_db, receiver, locale, texts):
    page, workspace = _signed_in(live_server, new_page, locale)
    page.goto(f"{live_server.url}/workspaces/{workspace.pk}/webhooks/")
    expect(page.locator("h1")).to_have_text(texts["title"])
    expect(page.get_by_test_id("no-webhooks")).to_be_visible()
    page.fill("#id_url", receiver.url)
    page.get_by_label("message.delivered").check()
    page.get_by_label("message.bounced").check()
    page.get_by_test_id("create-webhook").click()
    secret = page.get_by_test_id("webhook-secret").inner_text()
    assert secret.startswith("whsec_")
    receiver.secret = secret
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["message.delivered", "message.bounced"]
    page.screenshot(path=f"{SCREENSHOTS}/openesp-webhooks-{locale}.png", full_page=True)

    page.goto(f"{live_server.url}/workspaces/{workspace.pk}/webhooks/")  # shown once: not on a new look
    expect(page.get_by_test_id("webhook-secret")).to_have_count(0)
    page.get_by_role("link", name=receiver.url).click()
    page.get_by_test_id("test-webhook").click()
    expect(page.get_by_text(texts["delivered"])).to_be_visible()
    expect(page.get_by_test_id("delivery-status").first).to_have_text(texts["status"])
    assert receiver.refused == [] and [e["type"] for e in receiver.accepted] == ["webhook.test"]
    page.screenshot(path=f"{SCREENSHOTS}/openesp-webhook-log-{locale}.png", full_page=True)

    page.get_by_test_id("delete-webhook").click()
    expect(page.get_by_test_id("no-webhooks")).to_be_visible()
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(("locale", "ok", "missing"), [("en-US", "OK", "Missing"), ("sv-SE", "OK", "Saknas")])
def test_the_domain_page_shows_what_to_publish_and_what_is_found(
    live_server, new_page, transactional_db, dns_server, settings, locale, ok, missing
):
    settings.OPENESP_EGRESS_IPS = ["192.0.2.10"]
    page, workspace = _signed_in(live_server, new_page, locale)
    domain = add_sending_domain("shop.example", workspace)
    _record, key = add_dkim_key(domain)
    dns_server.publish("shop.example", "v=spf1 ip4:192.0.2.10 ~all")
    page.goto(f"{live_server.url}/workspaces/{workspace.pk}/domains/")
    page.get_by_role("link", name="shop.example").click()
    expect(page.get_by_test_id("health-spf")).to_contain_text(ok)
    expect(page.get_by_test_id("health-dkim")).to_contain_text(missing)
    expect(page.get_by_test_id("health-table")).to_contain_text(key.dns_record()[:40])
    expect(page.get_by_test_id("health-table")).to_contain_text("shop.example TXT v=spf1 ip4:192.0.2.10 ~all")
    page.screenshot(path=f"{SCREENSHOTS}/openesp-domain-health-{locale}.png", full_page=True)
