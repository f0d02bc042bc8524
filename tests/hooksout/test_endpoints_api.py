"""The endpoints API: the secret is answered once and stored encrypted, fields are checked by
name, viewers change nothing, the delivery log pages."""

from __future__ import annotations

import pytest

from openesp.hooksout.models import WebhookEndpoint
from openesp.lib import secretbox
from tests.api.conftest import api_for

pytestmark = pytest.mark.django_db
URL = "/api/v1/webhooks"
HOOK = "https://hooks.shop.example/openesp"


def test_it_answers_the_secret_once_and_stores_it_encrypted(alice, workspace):
    api = api_for(alice)
    created = api.post(URL, {"url": HOOK, "events": ["message.bounced", "message.sent"], "workspace": workspace.pk})
    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert body["events"] == ["message.sent", "message.bounced"]
    stored = WebhookEndpoint.objects.get()
    assert body["secret"] not in stored.secret_encrypted
    assert secretbox.decrypt(stored.secret_encrypted) == body["secret"]
    shown = api.get(f"{URL}/{body['id']}")
    assert shown.status_code == 200 and "secret" not in shown.json()
    assert body["secret"] not in api.get(URL, workspace=workspace.pk).content.decode()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"url": "ftp://x.example/", "events": ["message.sent"]}, "url"),
        ({"url": "https://u:p@x.example/", "events": ["message.sent"]}, "url"),
        ({"url": HOOK, "events": []}, "events"),
        ({"url": HOOK, "events": ["message.exploded"]}, "events"),
    ],
)
def test_it_names_the_field_at_fault(alice, workspace, payload, field):
    response = api_for(alice).post(URL, {**payload, "workspace": workspace.pk})
    assert response.status_code == 422
    assert field in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_it_changes_and_deletes_an_endpoint(alice, workspace):
    api = api_for(alice)
    endpoint = api.post(URL, {"url": HOOK, "events": ["message.sent"], "workspace": workspace.pk}).json()
    changed = api.patch(f"{URL}/{endpoint['id']}", {"events": ["message.clicked"], "active": False})
    assert changed.status_code == 200
    assert changed.json()["events"] == ["message.clicked"] and changed.json()["active"] is False
    assert api.delete(f"{URL}/{endpoint['id']}").status_code == 204
    assert api.get(f"{URL}/{endpoint['id']}").status_code == 404


def test_a_viewer_reads_but_changes_nothing(alice, bob, workspace, org):
    from openesp.accounts.models import Membership, Role

    Membership.objects.filter(organization=org, user=bob).update(role=Role.VIEWER)
    endpoint = api_for(alice).post(URL, {"url": HOOK, "events": ["message.sent"], "workspace": workspace.pk}).json()
    viewer = api_for(bob)
    assert viewer.get(f"{URL}/{endpoint['id']}").status_code == 200
    assert viewer.patch(f"{URL}/{endpoint['id']}", {"active": False}).status_code == 403
    assert viewer.post(URL, {"url": HOOK, "events": ["message.sent"], "workspace": workspace.pk}).status_code == 403
    assert WebhookEndpoint.objects.get().active is True


def test_a_key_without_the_webhooks_scope_is_refused(alice, workspace):
    api = api_for(alice, scopes=["contacts"])
    assert api.get(URL, workspace=workspace.pk).status_code == 403


def test_the_delivery_log_pages(alice, workspace, settings):
    from openesp.hooksout.endpoints import send_test

    api = api_for(alice)
    endpoint = api.post(URL, {"url": "https://127.0.0.1:9/", "events": ["message.sent"], "workspace": workspace.pk})
    assert endpoint.status_code == 422  # loopback refused by default
    settings.OPENESP_ALLOW_PRIVATE_WEBHOOK_HOSTS = True
    created = api.post(URL, {"url": "http://127.0.0.1:9/", "events": ["message.sent"], "workspace": workspace.pk})
    row = WebhookEndpoint.objects.get(pk=created.json()["id"])
    for _ in range(3):
        send_test(row)  # nothing listens on port 9: each is logged as failed
    first = api.get(f"{URL}/{row.pk}/deliveries", limit=2).json()
    assert [d["status"] for d in first["items"]] == ["failed", "failed"]
    assert first["items"][0]["last_error"]
    rest = api.get(f"{URL}/{row.pk}/deliveries", limit=2, cursor=first["next_cursor"]).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert api.get(f"{URL}/{row.pk}/deliveries", cursor="9" * 30).status_code == 422
