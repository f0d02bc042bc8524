"""The automations and category messages pages: list, create, show, change, pause, delete, send;
viewers look but do not change; errors stand beside their fields."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from openesp.accounts.models import Membership, Role
from openesp.audience import actions, categories
from openesp.campaigns.models import Automation, AutomationStatus, CategoryMessage
from openesp.campaigns.templates import create_template
from openesp.messaging.models import Category, Message
from tests.front.conftest import field_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(workspace, alice):
    version = create_template(workspace, name="Invite", subject="Hi {{ contact.name }}", text="t", actor=alice)
    members = actions.create_list(workspace, "Members")
    news = categories.create_category(workspace, "News")
    for i in range(2):
        categories.subscribe_category(actions.create_contact(workspace, f"n{i}@example.com"), news)
    return {"template": version.template, "list": members, "news": news}


def _automation_form(setup, **more):
    return {
        "name": "Welcome",
        "trigger": "list_subscribed",
        "trigger_list": setup["list"].pk,
        "offset_days": "0",
        "delay_minutes": "15",
        "template": setup["template"].pk,
        "from_email": "alice@example.org",
        **more,
    }


def test_an_automation_is_created_shown_paused_changed_and_deleted(as_alice: Client, workspace, setup):
    new = reverse("ws-automation-new", args=[workspace.pk])
    assert 'data-testid="automation-form"' in as_alice.get(new).content.decode()
    saved = as_alice.post(new, _automation_form(setup))
    automation = Automation.objects.get()
    assert saved["Location"] == reverse("ws-automation", args=[workspace.pk, automation.pk])
    page = as_alice.get(saved["Location"]).content.decode()
    assert "Welcome" in page and "Members" in page and 'data-testid="pause-automation"' in page
    listing = as_alice.get(reverse("ws-automations", args=[workspace.pk])).content.decode()
    assert '<tr data-automation="Welcome">' in listing

    as_alice.post(reverse("ws-automation-status", args=[workspace.pk, automation.pk]), {"action": "pause"})
    automation.refresh_from_db()
    assert automation.status == AutomationStatus.PAUSED

    edit = reverse("ws-automation-edit", args=[workspace.pk, automation.pk])
    assert 'value="Welcome"' in as_alice.get(edit).content.decode()
    as_alice.post(edit, _automation_form(setup, name="Hello", delay_minutes="0"))
    automation.refresh_from_db()
    assert (automation.name, automation.delay_minutes) == ("Hello", 0)

    as_alice.post(reverse("ws-automation-delete", args=[workspace.pk, automation.pk]))
    assert not Automation.objects.exists()


def test_wrong_automation_fields_are_shown_beside_them(as_alice: Client, workspace, setup):
    r = as_alice.post(
        reverse("ws-automation-new", args=[workspace.pk]),
        _automation_form(setup, trigger_list="", from_email="x@elsewhere.example"),
    )
    assert r.status_code == 400
    html = r.content.decode()
    assert field_error(html, "trigger_list") and field_error(html, "from_email")
    assert not Automation.objects.exists()


def test_a_category_message_is_sent_now_and_shown(as_alice: Client, workspace, setup):
    new = reverse("ws-catmessage-new", args=[workspace.pk])
    r = as_alice.post(
        new,
        {
            "category": setup["news"].pk,
            "template": setup["template"].pk,
            "from_email": "alice@example.org",
            "when": "now",
            "time_zone": "Europe/Stockholm",
        },
    )
    message = CategoryMessage.objects.get()
    assert r["Location"] == reverse("ws-catmessage", args=[workspace.pk, message.pk])
    assert Message.objects.filter(category=Category.CATEGORY_MESSAGE).count() == 2
    page = as_alice.get(r["Location"]).content.decode()
    assert '<dd data-testid="catmessage-audience">2</dd>' in page
    assert (
        '<tr data-catmessage="News">' in as_alice.get(reverse("ws-catmessages", args=[workspace.pk])).content.decode()
    )


def test_a_scheduled_category_message_needs_its_time_and_can_be_cancelled(as_alice: Client, workspace, setup):
    new = reverse("ws-catmessage-new", args=[workspace.pk])
    body = {
        "category": setup["news"].pk,
        "template": setup["template"].pk,
        "from_email": "alice@example.org",
        "when": "later",
        "time_zone": "Europe/Stockholm",
    }
    r = as_alice.post(new, body)
    assert r.status_code == 400 and field_error(r.content.decode(), "send_at")
    r = as_alice.post(new, {**body, "send_at": "2099-12-24T09:00"})
    message = CategoryMessage.objects.get()
    assert message.campaign.status == "scheduled"
    page = as_alice.get(r["Location"]).content.decode()
    assert "2099-12-24 09:00" in page and "Europe/Stockholm" in page
    as_alice.post(reverse("ws-catmessage-cancel", args=[workspace.pk, message.pk]))
    message.campaign.refresh_from_db()
    assert message.campaign.status == "cancelled"


def test_the_pages_speak_swedish(as_alice: Client, workspace, setup):
    html = as_alice.get(reverse("ws-automations", args=[workspace.pk]), HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert "Automatiseringar" in html and "Ny automatisering" in html
    html = as_alice.get(reverse("ws-catmessage-new", args=[workspace.pk]), HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert "Nytt kategorimeddelande" in html and "Tidszon" in html


def test_a_viewer_looks_and_changes_nothing(workspace, setup, org, bob):
    from tests.front.conftest import _client_for

    Membership.objects.filter(organization=org, user=bob).update(role=Role.VIEWER)
    as_bob = _client_for(bob)
    assert as_bob.get(reverse("ws-automations", args=[workspace.pk])).status_code == 200
    assert as_bob.post(reverse("ws-automation-new", args=[workspace.pk]), _automation_form(setup)).status_code == 403
    assert as_bob.get(reverse("ws-catmessage-new", args=[workspace.pk])).status_code == 403
    assert not Automation.objects.exists()
