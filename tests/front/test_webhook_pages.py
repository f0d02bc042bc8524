"""The webhook pages without a browser: the secret appears once and is stored encrypted, a
viewer sees the endpoints and changes nothing, a bad URL is named at its field."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from openesp.accounts.models import Membership, Role
from openesp.hooksout.endpoints import create_endpoint
from openesp.hooksout.models import WebhookEndpoint

pytestmark = pytest.mark.django_db


def test_the_secret_is_shown_once(as_alice, workspace):
    url = reverse("ws-webhooks", args=[workspace.pk])
    response = as_alice.post(url, {"url": "https://hooks.shop.example/in", "events": ["message.sent"]})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    secret = re.search(r'data-testid="webhook-secret">(whsec_[^<]+)<', response.content.decode())
    assert secret is not None
    assert secret.group(1) not in WebhookEndpoint.objects.get().secret_encrypted
    assert secret.group(1) not in as_alice.get(url).content.decode()


def test_a_bad_url_is_named_and_nothing_is_made(as_alice, workspace):
    response = as_alice.post(
        reverse("ws-webhooks", args=[workspace.pk]), {"url": "ftp://x.example/", "events": ["message.sent"]}
    )
    assert "http:// or https://" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_a_viewer_sees_the_endpoints_and_changes_nothing(as_bob, org, bob, workspace):
    Membership.objects.filter(organization=org, user=bob).update(role=Role.VIEWER)
    endpoint, _secret = create_endpoint(workspace, "https://hooks.shop.example/in", ["message.sent"])
    page = as_bob.get(reverse("ws-webhooks", args=[workspace.pk])).content.decode()
    assert "https://hooks.shop.example/in" in page and 'data-testid="create-webhook"' not in page
    for name in ("ws-webhook", "ws-webhook-test", "ws-webhook-delete"):
        answer = as_bob.post(reverse(name, args=[workspace.pk, endpoint.pk]), {"url": "https://evil.example/"})
        assert answer.status_code == 403
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.shop.example/in" and not endpoint.deliveries.exists()


def test_the_tracking_defaults_are_saved_and_shown_in_swedish(as_alice, workspace):
    from openesp.tracking.choice import defaults_of

    url = reverse("ws-tracking", args=[workspace.pk])
    assert as_alice.post(url, {"campaign_opens": "on", "transactional_clicks": "on"}).status_code == 302
    saved = defaults_of(workspace.pk, fresh=True)
    assert (saved.campaign_opens, saved.campaign_clicks, saved.transactional_opens, saved.transactional_clicks) == (
        True, False, False, True,
    )  # fmt: skip
    page = as_alice.get(url, HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert "Räkna klick i transaktionsmejl" in page


def test_a_viewer_cannot_change_the_tracking_defaults(as_bob, org, bob, workspace):
    from openesp.tracking.models import TrackingDefaults

    Membership.objects.filter(organization=org, user=bob).update(role=Role.VIEWER)
    assert as_bob.post(reverse("ws-tracking", args=[workspace.pk]), {"campaign_opens": "on"}).status_code == 403
    assert not TrackingDefaults.objects.exists()
