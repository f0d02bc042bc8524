"""A campaign's recipients (paged), responses (once) and reminders (now or scheduled) over the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from openesp.accounts.models import Membership, Role
from openesp.audience.actions import create_contact, create_list
from openesp.audience.suppressions import add_suppression
from openesp.campaigns.models import CampaignMessage, Purpose, Recipient, Reminder, Response
from openesp.campaigns.scheduling import run_due
from openesp.campaigns.templates import create_template
from openesp.campaigns.tokens import make_token
from openesp.messaging.actions import enqueue_message
from openesp.messaging.models import Category, Message
from tests.api.conftest import api_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(alice):
    return api_for(alice)


@pytest.fixture
def templates(workspace):
    invite = create_template(workspace, name="Invite", subject="Hi", text="{{ response_url }}")
    receipt = create_template(workspace, name="Receipt", subject="Thanks", text="Thanks {{ contact.name }}")
    reminder = create_template(workspace, name="Reminder", subject="Still there?", text="{{ response_url }}")
    return invite, receipt, reminder


@pytest.fixture
def people(workspace):
    members = create_list(workspace, "Members")
    return members, [create_contact(workspace, f"p{i}@example.com", lists=[members]) for i in range(5)]


def _start(api, workspace, templates, people, alice, *, receipt=True):
    invite, receipt_version, _reminder = templates
    members, _contacts = people
    body = {
        "name": "Spring",
        "template_id": invite.template_id,
        "from": alice.email,
        "lists": [members.pk],
        "workspace": workspace.pk,
    }
    if receipt:
        body["receipt_template_id"] = receipt_version.template_id
    made = api.post("/api/v1/campaigns", body).json()
    assert api.post(f"/api/v1/campaigns/{made['id']}/schedule", {"now": True}).status_code == 200
    run_due(timezone.now() + timedelta(seconds=1))
    return made["id"]


def test_recipients_page_as_contacts_do_and_filter_by_response(api, alice, workspace, templates, people):
    # Another mail first, so that message ids and recipient ids differ.
    enqueue_message(category=Category.TRANSACTIONAL, to_email="x@example.com", subject="x", text_body="x")
    campaign_id = _start(api, workspace, templates, people, alice)
    _members, contacts = people
    link = CampaignMessage.objects.get(recipient__contact=contacts[2], purpose=Purpose.INVITATION)
    Message.objects.filter(pk=link.message_id).update(status="delivered")
    url = f"/api/v1/campaigns/{campaign_id}/recipients"
    first = api.get(url, limit=2).json()
    assert [r["email"] for r in first["items"]] == ["p0@example.com", "p1@example.com"]
    assert first["items"][0] == {
        "contact_id": contacts[0].pk, "email": "p0@example.com", "status": "queued", "responded_at": None
    }  # fmt: skip
    seen = [r["email"] for r in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = api.get(url, limit=2, cursor=cursor).json()
        seen += [r["email"] for r in page["items"]]
        cursor = page["next_cursor"]
    assert seen == [f"p{i}@example.com" for i in range(5)]
    statuses = [r["status"] for r in api.get(url).json()["items"]]
    assert statuses == ["queued", "queued", "delivered", "queued", "queued"]

    api.post(f"/api/v1/campaigns/{campaign_id}/responses", {"contact_id": contacts[3].pk})
    responded = api.get(url, responded="true").json()["items"]
    assert [r["email"] for r in responded] == ["p3@example.com"] and responded[0]["responded_at"]
    assert len(api.get(url, responded="false").json()["items"]) == 4
    assert api.get(url, cursor="nope").status_code == 422
    assert api.get(url, limit=0).status_code == 422


def test_a_response_is_recorded_once_and_its_receipt_queued_once(api, alice, workspace, templates, people):
    campaign_id = _start(api, workspace, templates, people, alice)
    _members, contacts = people
    recipient = Recipient.objects.get(contact=contacts[1])
    url = f"/api/v1/campaigns/{campaign_id}/responses"
    first = api.post(url, {"token": make_token(recipient.pk), "data": {"answer": "yes", "seats": 2}})
    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["contact_id"], body["email"], body["data"], body["source"]) == (
        contacts[1].pk, "p1@example.com", {"answer": "yes", "seats": 2}, "api"
    )  # fmt: skip
    repeat = api.post(url, {"contact_id": contacts[1].pk, "data": {"answer": "no"}})
    assert repeat.status_code == 200 and repeat.json() == body
    assert Response.objects.count() == 1
    receipts = CampaignMessage.objects.filter(purpose=Purpose.RECEIPT)
    assert receipts.count() == 1
    assert Message.objects.get(pk=receipts.get().message_id).category == Category.RESPONSE_RECEIPT
    stats = api.get(f"/api/v1/campaigns/{campaign_id}").json()["stats"]
    assert stats["responded"] == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "token"),
        ({"token": "x", "contact_id": 1}, "token"),
        ({"token": "forged.0123456789abcdef0123456789abcdef"}, "token"),
        ({"contact_id": 987654}, "contact_id"),
        ({"contact_id": 1, "data": "yes"}, "data"),
    ],
)
def test_a_response_names_no_recipient_is_a_422(api, alice, workspace, templates, people, payload, field):
    campaign_id = _start(api, workspace, templates, people, alice)
    response = api.post(f"/api/v1/campaigns/{campaign_id}/responses", payload)
    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["field"] == field
    assert not Response.objects.exists()


def test_a_token_of_another_campaign_is_refused(api, alice, workspace, templates, people):
    first = _start(api, workspace, templates, people, alice)
    second = _start(api, workspace, templates, people, alice)
    other = Recipient.objects.filter(campaign_id=second).first()
    response = api.post(f"/api/v1/campaigns/{first}/responses", {"token": make_token(other.pk)})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "token"


def test_a_manual_reminder_goes_now_to_who_has_not_responded(api, alice, workspace, templates, people):
    campaign_id = _start(api, workspace, templates, people, alice, receipt=False)
    _members, contacts = people
    _invite, _receipt, reminder = templates
    api.post(f"/api/v1/campaigns/{campaign_id}/responses", {"contact_id": contacts[0].pk})
    add_suppression(workspace, "p4@example.com")
    response = api.post(f"/api/v1/campaigns/{campaign_id}/reminders", {"template_id": reminder.template_id})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["category"], body["status"], body["sent"], body["template_version"]) == ("reminder", "sent", 3, 1)
    reminded = Message.objects.filter(category=Category.REMINDER).values_list("to_email", flat=True)
    assert sorted(reminded) == ["p1@example.com", "p2@example.com", "p3@example.com"]
    listed = api.get(f"/api/v1/campaigns/{campaign_id}/reminders").json()
    assert listed == [body]


def test_a_scheduled_reminder_waits_for_its_time(api, alice, workspace, templates, people):
    campaign_id = _start(api, workspace, templates, people, alice, receipt=False)
    _invite, _receipt, reminder = templates
    url = f"/api/v1/campaigns/{campaign_id}/reminders"
    at = api.post(
        url, {"template_id": reminder.template_id, "send_at": "2099-06-01T09:00", "time_zone": "Europe/Stockholm"}
    )
    assert at.status_code == 201, at.content
    assert at.json()["category"] == "reminder_scheduled" and at.json()["status"] == "scheduled"
    assert at.json()["send_at"] == "2099-06-01T07:00:00Z"
    assert datetime.fromisoformat(at.json()["send_at"]) == datetime(2099, 6, 1, 7, 0, tzinfo=UTC)
    after = api.post(url, {"template_id": reminder.template_id, "after_days": 3})
    assert after.json()["after_days"] == 3 and after.json()["send_at"] is None
    assert not Message.objects.filter(category=Category.REMINDER_SCHEDULED).exists()
    run_due(timezone.now() + timedelta(days=3, seconds=1))
    assert Reminder.objects.get(pk=after.json()["id"]).status == "sent"
    assert Message.objects.filter(category=Category.REMINDER_SCHEDULED).count() == 5
    assert Reminder.objects.get(pk=at.json()["id"]).status == "scheduled"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"template_id": 987654}, "template_id"),
        ({"template_version": 4}, "template_version"),
        ({"send_at": "2099-06-01T09:00"}, "time_zone"),
        ({"send_at": "2001-06-01T09:00", "time_zone": "UTC"}, "send_at"),
        ({"send_at": "2099-06-01T09:00", "time_zone": "UTC", "after_days": 2}, "after_days"),
        ({"after_days": 400}, "after_days"),
        ({"after_days": -1}, "after_days"),
    ],
)
def test_a_bad_reminder_is_a_422_naming_the_field(api, alice, workspace, templates, people, payload, field):
    campaign_id = _start(api, workspace, templates, people, alice)
    body = {"template_id": templates[2].template_id, **payload}
    response = api.post(f"/api/v1/campaigns/{campaign_id}/reminders", body)
    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["field"] == field
    assert not Reminder.objects.exists()


def test_reminders_of_a_draft_or_cancelled_campaign_are_409(api, alice, workspace, templates, people):
    invite, _receipt, reminder = templates
    members, _contacts = people
    draft = api.post(
        "/api/v1/campaigns",
        {"name": "D", "template_id": invite.template_id, "from": alice.email, "lists": [members.pk],
         "workspace": workspace.pk},
    ).json()  # fmt: skip
    url = f"/api/v1/campaigns/{draft['id']}/reminders"
    assert api.post(url, {"template_id": reminder.template_id}).status_code == 409
    api.post(f"/api/v1/campaigns/{draft['id']}/schedule", {"now": True})
    not_started = api.post(url, {"template_id": reminder.template_id})
    assert not_started.status_code == 409 and "has not started" in not_started.json()["detail"]
    api.post(f"/api/v1/campaigns/{draft['id']}/cancel")
    assert api.post(url, {"template_id": reminder.template_id, "after_days": 1}).status_code == 409
    assert not Reminder.objects.exists()


def test_viewers_read_recipients_and_reminders_but_cannot_respond_or_remind(
    api, alice, bob, workspace, templates, people
):
    campaign_id = _start(api, workspace, templates, people, alice)
    _members, contacts = people
    Membership.objects.filter(user=bob).update(role=Role.VIEWER)
    viewer = api_for(bob)
    assert viewer.get(f"/api/v1/campaigns/{campaign_id}/recipients").status_code == 200
    assert viewer.get(f"/api/v1/campaigns/{campaign_id}/reminders").status_code == 200
    respond = viewer.post(f"/api/v1/campaigns/{campaign_id}/responses", {"contact_id": contacts[0].pk})
    remind = viewer.post(f"/api/v1/campaigns/{campaign_id}/reminders", {"template_id": templates[2].template_id})
    assert (respond.status_code, remind.status_code) == (403, 403)
    assert not Response.objects.exists() and not Reminder.objects.exists()
