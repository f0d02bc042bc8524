"""Another workspace's contacts and lists stay out of reach under one's own workspace id.

The outsider table (``tests/front/tenancy_areas/audience.py``) names Acme's objects under Acme's
workspace; here charlie names them under *his own* workspace, and bob, a member of Acme,
names the contacts of an Acme workspace he was not given under the one he was.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from openesp.accounts.models import Organization, Workspace
from openesp.audience import actions
from openesp.audience.models import ConsentRecord, Contact, ContactList, Subscription

pytestmark = pytest.mark.django_db

CONTACT_PAGES = [
    ("ws-contact", "get"),
    ("ws-contact", "post"),
    ("ws-contact-subscription", "post"),
    ("ws-contact-export", "get"),
    ("ws-contact-erase", "get"),
    ("ws-contact-erase", "post"),
]
LIST_PAGES = [
    ("ws-list", "get"),
    ("ws-list", "post"),
    ("ws-list-subscribe", "post"),
    ("ws-list-delete", "get"),
    ("ws-list-delete", "post"),
]


@pytest.fixture
def acme(workspace: Workspace) -> dict[str, Any]:
    newsletter = actions.create_list(workspace, "Newsletter")
    ann = actions.create_contact(workspace, "ann@example.com", name="Ann", lists=[newsletter])
    return {"contact": ann, "list": newsletter}


def _state() -> list[Any]:
    return [
        list(Contact.objects.order_by("id").values()),
        list(ContactList.objects.order_by("id").values()),
        list(Subscription.objects.order_by("id").values()),
        ConsentRecord.objects.count(),
    ]


def _try(client: Client, name: str, method: str, ws_id: int, obj_id: int, list_id: int) -> Any:
    data = {"name": "pwned", "email": "x@example.com", "status": "active", "list": list_id, "action": "unsubscribe"}
    return getattr(client, method)(reverse(name, args=[ws_id, obj_id]), data if method == "post" else None)


@pytest.mark.parametrize(("name", "method"), CONTACT_PAGES + LIST_PAGES)
def test_charlie_cannot_reach_acme_objects_under_his_own_workspace(as_charlie, charlie_org, acme, name, method):
    own = Workspace.objects.create(organization=charlie_org, name="Charlie's")
    # His own list, so that a subscription POST is not refused for a missing list alone.
    his_list = actions.create_list(own, "Mine")
    obj = acme["contact"] if name.startswith("ws-contact") else acme["list"]
    before = _state()
    response = _try(as_charlie, name, method, own.pk, obj.pk, his_list.pk)
    assert response.status_code == 404
    assert "Ann" not in response.content.decode() and "Newsletter" not in response.content.decode()
    assert _state() == before


@pytest.mark.parametrize(("name", "method"), CONTACT_PAGES + LIST_PAGES)
def test_bob_cannot_reach_a_workspace_he_was_not_given(as_bob, org: Organization, workspace, acme, name, method):
    sales = Workspace.objects.create(organization=org, name="Sales")
    sales_list = actions.create_list(sales, "Sales list")
    sales_contact = actions.create_contact(sales, "sam@example.com", lists=[sales_list])
    obj = sales_contact if name.startswith("ws-contact") else sales_list
    before = _state()
    # Under his own workspace's id, and under the Sales id itself.
    for ws_id in (workspace.pk, sales.pk):
        assert _try(as_bob, name, method, ws_id, obj.pk, sales_list.pk).status_code == 404
    assert _state() == before


def test_a_subscription_post_cannot_name_a_foreign_list(as_alice, workspace, acme, charlie_org):
    theirs = actions.create_list(Workspace.objects.create(organization=charlie_org, name="Other"), "Theirs")
    url = reverse("ws-contact-subscription", args=[workspace.pk, acme["contact"].pk])
    assert as_alice.post(url, {"list": theirs.pk, "action": "subscribe"}).status_code == 404
    assert not Subscription.objects.filter(contact_list=theirs).exists()
