"""Categories, a contact's categories, the confirmation resend and the preference link, through the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from openesp.accounts.models import Membership, Role, Workspace
from openesp.audience import actions, categories
from openesp.audience.models import ConsentRecord, ContactTopic, Subscription, Topic
from openesp.messaging.models import Message
from tests.api.conftest import api_for

pytestmark = pytest.mark.django_db

CATEGORIES = "/api/v1/categories"


def _fields(response) -> dict[str, str]:
    return {e["field"]: e["reason"] for e in response.json()["errors"]}


def test_it_manages_categories(alice_api, workspace):
    r = alice_api.post(CATEGORIES, {"name": "Product news", "description": "Monthly", "workspace": workspace.pk})
    assert r.status_code == 201, r.content
    news = r.json()
    assert {k: news[k] for k in ("name", "description", "subscribers", "workspace_id")} == {
        "name": "Product news",
        "description": "Monthly",
        "subscribers": 0,
        "workspace_id": workspace.pk,
    }
    duplicate = alice_api.post(CATEGORIES, {"name": "Product news", "workspace": workspace.pk})
    assert duplicate.status_code == 422
    assert _fields(duplicate) == {"name": "the workspace has a category of this name already"}
    assert alice_api.post(CATEGORIES, {"name": " ", "workspace": workspace.pk}).status_code == 422
    assert Topic.objects.count() == 1

    contact = actions.create_contact(workspace, "ann@example.com")
    categories.subscribe_category(contact, Topic.objects.get())
    listed = alice_api.get(CATEGORIES, workspace=workspace.pk).json()
    assert [(c["name"], c["subscribers"]) for c in listed] == [("Product news", 1)]

    renamed = alice_api.patch(f"{CATEGORIES}/{news['id']}", {"name": "Releases"})
    assert renamed.json()["name"] == "Releases" and renamed.json()["description"] == "Monthly"
    assert alice_api.get(f"{CATEGORIES}/{news['id']}").json()["subscribers"] == 1
    assert alice_api.delete(f"{CATEGORIES}/{news['id']}").status_code == 204
    assert alice_api.get(f"{CATEGORIES}/{news['id']}").status_code == 404
    assert not ContactTopic.objects.exists()


def test_a_workspace_key_uses_its_workspace(alice, workspace):
    api = api_for(alice, workspace=workspace)
    assert api.post(CATEGORIES, {"name": "Surveys"}).json()["workspace_id"] == workspace.pk
    assert len(api.get(CATEGORIES).json()) == 1


def test_a_personal_key_must_name_the_workspace(alice_api):
    r = alice_api.post(CATEGORIES, {"name": "Surveys"})
    assert r.status_code == 422 and set(_fields(r)) == {"workspace"}


def test_it_sets_a_contacts_categories(alice_api, org, workspace):
    contact = actions.create_contact(workspace, "ann@example.com")
    a = categories.create_category(workspace, "A")
    b = categories.create_category(workspace, "B")
    path = f"/api/v1/contacts/{contact.pk}/categories"
    r = alice_api.put(path, {"categories": [b.pk, a.pk]})
    assert r.status_code == 200, r.content
    assert r.json() == {"contact_id": contact.pk, "categories": [a.pk, b.pk]}
    assert alice_api.put(path, {"categories": [b.pk]}).json()["categories"] == [b.pk]
    assert alice_api.get(path).json() == {"contact_id": contact.pk, "categories": [b.pk]}
    rows = ConsentRecord.objects.filter(contact=contact).order_by("id")
    assert [(r.action, r.topic_name, r.source) for r in rows] == [
        ("subscribe", "A", "api"),
        ("subscribe", "B", "api"),
        ("unsubscribe", "A", "api"),
    ]
    assert rows[0].actor_id is not None and rows[0].source_detail.startswith("API key ")

    # Another workspace's category: 422 naming the field, and nothing changes.
    foreign = categories.create_category(Workspace.objects.create(organization=org, name="Other"), "Elsewhere")
    for bad in ([a.pk, foreign.pk], [987654]):
        r = alice_api.put(path, {"categories": bad})
        assert r.status_code == 422
        assert _fields(r) == {"categories": "names a category the contact's workspace does not have"}
    assert alice_api.get(path).json()["categories"] == [b.pk]
    assert ConsentRecord.objects.filter(contact=contact).count() == 3
    assert alice_api.put(path, {"categories": "nope"}).status_code == 422


def test_viewers_read_but_do_not_change(alice_api, bob, workspace):
    Membership.objects.filter(user=bob).update(role=Role.VIEWER)
    news = categories.create_category(workspace, "News")
    contact = actions.create_contact(workspace, "ann@example.com")
    bob_api = api_for(bob)
    assert bob_api.get(CATEGORIES, workspace=workspace.pk).status_code == 200
    assert bob_api.get(f"/api/v1/contacts/{contact.pk}/categories").status_code == 200
    for r in [
        bob_api.post(CATEGORIES, {"name": "Mine", "workspace": workspace.pk}),
        bob_api.patch(f"{CATEGORIES}/{news.pk}", {"name": "Mine"}),
        bob_api.delete(f"{CATEGORIES}/{news.pk}"),
        bob_api.put(f"/api/v1/contacts/{contact.pk}/categories", {"categories": [news.pk]}),
        bob_api.get(f"/api/v1/contacts/{contact.pk}/preferences-link"),
    ]:
        assert r.status_code == 403, r.content
    assert list(Topic.objects.values_list("name", flat=True)) == ["News"]
    assert not ContactTopic.objects.exists()


def test_a_double_opt_in_subscription_through_the_api_queues_the_mail_and_resends(alice_api, workspace):
    weekly = alice_api.post("/api/v1/lists", {"name": "Weekly", "double_opt_in": True, "workspace": workspace.pk})
    list_id = weekly.json()["id"]
    r = alice_api.post(f"/api/v1/lists/{list_id}/subscribers", {"email": "ann@example.com"})
    assert r.json()["status"] == "pending"
    contact_id = r.json()["contact_id"]
    (first,) = Message.objects.all()
    assert first.category == "system" and first.workspace_id == workspace.pk

    path = f"/api/v1/lists/{list_id}/subscribers/{contact_id}/confirmation"
    too_soon = alice_api.post(path)
    assert too_soon.status_code == 429
    assert too_soon.json()["error"] == "throttled" and 0 < too_soon.json()["retry_after"] <= 300
    assert too_soon["Retry-After"] == str(too_soon.json()["retry_after"])
    Message.objects.update(created_at=timezone.now() - timedelta(minutes=6))
    again = alice_api.post(path)
    assert again.status_code == 202, again.content
    assert again.json()["message_id"] == str(Message.objects.latest("id").public_id)
    assert Message.objects.count() == 2

    # Confirmed: nothing to resend.
    Subscription.objects.update(status="subscribed")
    conflict = alice_api.post(path)
    assert (conflict.status_code, conflict.json()["error"]) == (409, "conflict")
    # Not on the list at all.
    other = actions.create_contact(workspace, "bo@example.com")
    assert alice_api.post(f"/api/v1/lists/{list_id}/subscribers/{other.pk}/confirmation").status_code == 404


def test_the_preferences_link_opens_the_contacts_page(alice_api, workspace, settings):
    contact = actions.create_contact(workspace, "ann@example.com")
    r = alice_api.get(f"/api/v1/contacts/{contact.pk}/preferences-link")
    assert r.status_code == 200
    url = r.json()["url"]
    assert url.startswith(settings.OPENESP_BASE_URL + "/p/")
    page = Client().get(url.removeprefix(settings.OPENESP_BASE_URL))
    assert page.status_code == 200 and "ann@example.com" in page.content.decode()
