"""Automations and category messages through the API: 201, 422 naming fields, 404, 409, the trigger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from openesp.audience import actions, categories
from openesp.campaigns.models import Automation, AutomationEntry, CampaignMessage
from openesp.campaigns.render import RenderedMessage, render_messages
from openesp.campaigns.scheduling import run_due
from openesp.campaigns.templates import create_template
from openesp.messaging.models import Category, Message
from tests.api.conftest import api_for

pytestmark = pytest.mark.django_db

AUTOMATIONS = "/api/v1/automations"
CATEGORY_MESSAGES = "/api/v1/category-messages"


def _fields(response) -> dict[str, str]:
    return {e["field"]: e["reason"] for e in response.json()["errors"]}


@pytest.fixture
def template(workspace):
    return create_template(
        workspace, name="Invite", subject="Hi {{ contact.name }} {{ trigger.data.get('plan', '') }}", text="t"
    ).template


def _body(workspace, template, **more):
    return {
        "name": "Welcome",
        "trigger": "api",
        "template_id": template.pk,
        "from": "alice@example.org",
        "workspace": workspace.pk,
        **more,
    }


def test_it_makes_lists_reads_changes_and_deletes_an_automation(alice_api, workspace, template):
    members = actions.create_list(workspace, "Members")
    r = alice_api.post(
        AUTOMATIONS,
        _body(
            workspace,
            template,
            trigger="list_subscribed",
            list_id=members.pk,
            delay_minutes=30,
            **{"from": {"email": "alice@example.org", "name": "Al"}},
        ),
    )
    assert r.status_code == 201, r.content
    made = r.json()
    assert {
        k: made[k] for k in ("name", "status", "trigger", "list_id", "delay_minutes", "template_version", "from")
    } == {
        "name": "Welcome",
        "status": "active",
        "trigger": "list_subscribed",
        "list_id": members.pk,
        "delay_minutes": 30,
        "template_version": 1,
        "from": {"email": "alice@example.org", "name": "Al"},
    }
    assert made["stats"] == {
        "entered": 0,
        "waiting": 0,
        "sent": 0,
        "skipped": 0,
        "responded": 0,
        "reminders_sent": 0,
        "receipts_sent": 0,
    }
    assert [a["id"] for a in alice_api.get(AUTOMATIONS, workspace=workspace.pk).json()] == [made["id"]]
    one = f"{AUTOMATIONS}/{made['id']}"
    assert alice_api.get(one).json()["name"] == "Welcome"

    r = alice_api.patch(one, {"name": "Hello", "delay_minutes": 0, "status": "paused"})
    assert r.status_code == 200, r.content
    assert (r.json()["name"], r.json()["status"], r.json()["delay_minutes"]) == ("Hello", "paused", 0)
    assert alice_api.patch(one, {"status": "paused"}).status_code == 409
    assert alice_api.patch(one, {"status": "active"}).json()["status"] == "active"
    assert _fields(alice_api.patch(one, {"status": "asleep"})) == {"status": "must be one of active, paused"}

    assert alice_api.delete(one).status_code == 204
    assert alice_api.get(one).status_code == 404
    assert not Automation.objects.exists()


def test_wrong_fields_are_a_422_naming_each(alice_api, workspace, template, charlie_org):
    r = alice_api.post(
        AUTOMATIONS,
        {**_body(workspace, template), "name": "", "trigger": "date_attribute", "from": "x@elsewhere.example"},
    )
    assert r.status_code == 422
    assert set(_fields(r)) == {"name", "date_attribute", "from"}
    assert set(_fields(alice_api.post(AUTOMATIONS, _body(workspace, template, offset_days=10**6)))) == {"offset_days"}
    assert set(_fields(alice_api.post(AUTOMATIONS, _body(workspace, template, trigger="soon")))) == {"trigger"}
    # Ids in the body the workspace does not have: 422 naming the field, not 404.
    foreign_template = create_template(
        charlie_org.workspaces.create(name="C"), name="Theirs", subject="s", text="t"
    ).template
    r = alice_api.post(AUTOMATIONS, _body(workspace, foreign_template))
    assert _fields(r) == {"template_id": "the workspace has no template with this id"}
    r = alice_api.post(AUTOMATIONS, _body(workspace, template, trigger="list_subscribed", list_id=987654321))
    assert _fields(r) == {"list_id": "the workspace has no list with this id"}
    r = alice_api.post(AUTOMATIONS, _body(workspace, template, template_version=7))
    assert _fields(r) == {"template_version": "the template has no such version"}
    assert not Automation.objects.exists()


def test_a_viewer_reads_and_changes_nothing_and_a_key_needs_the_scope(workspace, template, bob, alice, org):
    from openesp.accounts.models import Membership, Role

    Membership.objects.filter(organization=org, user=bob).update(role=Role.VIEWER)
    assert api_for(bob).post(AUTOMATIONS, _body(workspace, template)).status_code == 403
    assert api_for(bob).get(AUTOMATIONS, workspace=workspace.pk).status_code == 200
    assert api_for(alice, scopes=["contacts"]).get(AUTOMATIONS, workspace=workspace.pk).status_code == 403


def test_the_trigger_route_is_once_per_key_and_sends_after_the_delay(alice_api, workspace, template):
    contact = actions.create_contact(workspace, "buyer@example.com", name="Bo")
    automation = alice_api.post(AUTOMATIONS, _body(workspace, template, delay_minutes=5)).json()
    trigger = f"{AUTOMATIONS}/{automation['id']}/trigger"

    r = alice_api.post(trigger, {"contact_id": contact.pk, "key": "signup-1", "data": {"plan": "gold"}})
    assert r.status_code == 201, r.content
    entry = r.json()
    assert (entry["contact_id"], entry["occurrence"], entry["status"]) == (contact.pk, "api:signup-1", "waiting")
    again = alice_api.post(trigger, {"email": "BUYER@example.com", "key": "signup-1"})
    assert (again.status_code, again.json()["id"]) == (200, entry["id"])
    assert alice_api.post(trigger, {"email": "buyer@example.com"}).status_code == 201  # no key: a new occurrence

    assert _fields(alice_api.post(trigger, {})) == {"contact_id": "give contact_id or email (one of them)"}
    assert _fields(alice_api.post(trigger, {"email": "nobody@example.com"})) == {
        "email": "the workspace has no contact with this address"
    }
    assert _fields(alice_api.post(trigger, {"contact_id": 987654321})) == {
        "contact_id": "the workspace has no contact with this id"
    }
    assert alice_api.post(f"{AUTOMATIONS}/987654321/trigger", {"contact_id": contact.pk}).status_code == 404

    assert run_due(timezone.now()).entries_sent == 0
    assert run_due(timezone.now() + timedelta(minutes=6)).entries_sent == 2
    messages = list(Message.objects.filter(id__in=CampaignMessage.objects.values("message_id")).order_by("id"))
    assert {m.category for m in messages} == {Category.INVITATION_AUTOMATION}
    subjects = [r.subject for r in render_messages(messages).values() if isinstance(r, RenderedMessage)]
    assert subjects == ["Hi Bo gold", "Hi Bo"]  # the subject is stripped
    stats = alice_api.get(f"{AUTOMATIONS}/{automation['id']}").json()["stats"]
    assert (stats["entered"], stats["sent"]) == (2, 2)


def test_triggering_an_automation_of_another_trigger_is_a_409(alice_api, workspace, template):
    members = actions.create_list(workspace, "Members")
    contact = actions.create_contact(workspace, "c@example.com")
    automation = alice_api.post(
        AUTOMATIONS, _body(workspace, template, trigger="list_subscribed", list_id=members.pk)
    ).json()
    r = alice_api.post(f"{AUTOMATIONS}/{automation['id']}/trigger", {"contact_id": contact.pk})
    assert r.status_code == 409
    assert r.json()["detail"] == "this automation is triggered by list_subscribed, not by the API"
    assert not AutomationEntry.objects.exists()


def test_a_response_to_an_automation_invitation_is_recorded_once(alice_api, workspace, template):
    thanks = create_template(workspace, name="Thanks", subject="Thanks", text="t")
    contact = actions.create_contact(workspace, "r@example.com")
    other = actions.create_contact(workspace, "o@example.com")
    automation = alice_api.post(AUTOMATIONS, _body(workspace, template, receipt_template_id=thanks.template_id)).json()
    base = f"{AUTOMATIONS}/{automation['id']}"
    for who in (contact, other):
        alice_api.post(f"{base}/trigger", {"contact_id": who.pk})
    run_due(timezone.now())
    first = alice_api.post(f"{base}/responses", {"contact_id": contact.pk, "data": {"answer": "yes"}})
    assert first.status_code == 201, first.content
    assert (first.json()["email"], first.json()["data"]) == ("r@example.com", {"answer": "yes"})
    again = alice_api.post(f"{base}/responses", {"contact_id": contact.pk, "data": {"answer": "no"}})
    assert (again.status_code, again.json()["id"], again.json()["data"]) == (200, first.json()["id"], {"answer": "yes"})
    receipts = Message.objects.filter(category=Category.RESPONSE_RECEIPT)
    assert [m.to_email for m in receipts] == ["r@example.com"]
    assert _fields(alice_api.post(f"{base}/responses", {"token": "MQ.00000000000000000000000000000000"})) == {
        "token": "names no recipient of this automation"
    }
    stranger = actions.create_contact(workspace, "s@example.com")
    assert _fields(alice_api.post(f"{base}/responses", {"contact_id": stranger.pk})) == {
        "contact_id": "names no recipient of this automation"
    }
    assert alice_api.get(base).json()["stats"]["responded"] == 1


# --- category messages -----------------------------------------------------------------------------


@pytest.fixture
def news(workspace):
    topic = categories.create_category(workspace, "News")
    for i in range(3):
        categories.subscribe_category(actions.create_contact(workspace, f"n{i}@example.com", name=f"N{i}"), topic)
    return topic


def test_a_category_message_sent_now_is_queued_to_the_subscribers(alice_api, workspace, template, news):
    r = alice_api.post(
        CATEGORY_MESSAGES,
        {"category_id": news.pk, "template_id": template.pk, "from": "alice@example.org", "workspace": workspace.pk},
    )
    assert r.status_code == 201, r.content
    made = r.json()
    assert (made["status"], made["category_name"], made["stats"]["audience"], made["stats"]["queued"]) == (
        "sending",
        "News",
        3,
        3,
    )
    messages = list(Message.objects.filter(category=Category.CATEGORY_MESSAGE).order_by("to_email"))
    assert [m.to_email for m in messages] == ["n0@example.com", "n1@example.com", "n2@example.com"]
    assert [alice_api.get(CATEGORY_MESSAGES, workspace=workspace.pk).json()[0]["id"]] == [made["id"]]
    assert alice_api.get(f"{CATEGORY_MESSAGES}/{made['id']}").json()["stats"]["queued"] == 3
    assert alice_api.post(f"{CATEGORY_MESSAGES}/{made['id']}/cancel").json()["stats"]["cancelled"] == 3
    assert alice_api.post(f"{CATEGORY_MESSAGES}/{made['id']}/cancel").status_code == 409


def test_a_scheduled_category_message_and_its_wrong_fields(alice_api, workspace, template, news):
    body = {"category_id": news.pk, "template_id": template.pk, "from": "alice@example.org", "workspace": workspace.pk}
    r = alice_api.post(CATEGORY_MESSAGES, {**body, "send_at": "2099-12-24T09:00", "time_zone": "Europe/Stockholm"})
    assert r.status_code == 201, r.content
    assert (r.json()["status"], r.json()["send_at"], r.json()["time_zone"]) == (
        "scheduled",
        "2099-12-24T08:00:00Z",
        "Europe/Stockholm",
    )
    assert not Message.objects.filter(category=Category.CATEGORY_MESSAGE).exists()
    assert _fields(alice_api.post(CATEGORY_MESSAGES, {**body, "send_at": "2099-12-24T09:00"})) == {
        "time_zone": "is required with send_at"
    }
    r = alice_api.post(CATEGORY_MESSAGES, {**body, "category_id": 987654321, "template_id": 987654321})
    assert r.status_code == 422 and set(_fields(r)) == {"category_id"}
    r = alice_api.post(CATEGORY_MESSAGES, {**body, "send_at": "2020-01-01T09:00", "time_zone": "Europe/Stockholm"})
    assert _fields(r) == {"send_at": "is in the past"}
    assert alice_api.get(f"{CATEGORY_MESSAGES}/987654321").status_code == 404
