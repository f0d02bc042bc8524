"""``/api/v1/campaigns``: drafts, changes, the schedule and the state machine (409), numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from openesp.accounts.models import Membership, Role, Workspace
from openesp.audience.actions import create_contact, create_list
from openesp.audience.models import Segment
from openesp.audience.suppressions import add_suppression
from openesp.campaigns.models import Campaign, CampaignMessage, Recipient
from openesp.campaigns.scheduling import run_due
from openesp.campaigns.templates import create_template
from openesp.messaging.models import Message
from tests.api.conftest import api_for

pytestmark = pytest.mark.django_db

STATS_KEYS = {
    "audience", "excluded", "queued", "cancelled", "sent", "delivered", "bounced", "opened", "clicked", "responded",
    "unsubscribed", "complained", "reminders_sent", "receipts_sent", "unconfirmed",
}  # fmt: skip


@pytest.fixture
def api(alice):
    return api_for(alice)


@pytest.fixture
def version(workspace, alice):
    return create_template(workspace, name="Invite", subject="Hi {{ contact.name }}", text="{{ response_url }}")


@pytest.fixture
def members(workspace):
    members = create_list(workspace, "Members")
    for i in range(4):
        create_contact(workspace, f"m{i}@example.com", name=f"M{i}", lists=[members])
    return members


@pytest.fixture
def body(workspace, version, members, alice):
    return {
        "name": "Spring",
        "template_id": version.template_id,
        "from": alice.email,
        "lists": [members.pk],
        "workspace": workspace.pk,
    }


def _draft(api, body, **changes):
    response = api.post("/api/v1/campaigns", {**body, **changes})
    assert response.status_code == 201, response.content
    return response.json()


def test_create_answers_a_draft_with_its_effective_provider_and_zero_numbers(api, body, version, members):
    made = _draft(api, body, reply_to="replies@example.com", response_url="https://forms.example/x")
    assert made["status"] == "draft"
    assert (made["template_id"], made["template_version"], made["lists"]) == (version.template_id, 1, [members.pk])
    assert (made["from"], made["reply_to"], made["response_url"]) == (
        body["from"], "replies@example.com", "https://forms.example/x"
    )  # fmt: skip
    assert set(made["effective_provider"]) == {"kind", "reason"}
    assert made["effective_provider"]["reason"]
    assert set(made["stats"]) == STATS_KEYS
    assert made["stats"]["excluded"] == {"suppressed": 0, "unsubscribed": 0, "not_subscribed": 0, "erased": 0}
    assert api.get(f"/api/v1/campaigns/{made['id']}").json() == made


def test_create_pins_a_version_and_takes_a_sender_with_a_name(api, body, version, workspace):
    version.template.refresh_from_db()
    from openesp.campaigns.templates import save_template

    save_template(version.template, subject="v2", text="two")
    pinned = _draft(api, body, template_version=1, **{"from": {"email": body["from"], "name": "Alice at Acme"}})
    assert pinned["template_version"] == 1 and pinned["from_name"] == "Alice at Acme"
    latest = _draft(api, body, name="Latest")
    assert latest["template_version"] == 2


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"from": "ceo@elsewhere.example"}, ["from"]),
        ({"name": "  ", "response_url": "javascript:alert(1)"}, ["name", "response_url"]),
        ({"template_id": 987654}, ["template_id"]),
        ({"template_version": 9}, ["template_version"]),
        ({"lists": [987654]}, ["lists"]),
        ({"segment": 987654}, ["segment"]),
        ({"receipt_template_id": 987654}, ["receipt_template_id"]),
        ({"reply_to": "not an address"}, ["reply_to"]),
    ],
)
def test_create_refuses_bad_fields_naming_each(api, body, changes, fields):
    response = api.post("/api/v1/campaigns", {**body, **changes})
    assert response.status_code == 422, response.content
    assert [e["field"] for e in response.json()["errors"]] == fields
    assert not Campaign.objects.exists()


def test_objects_of_another_workspace_in_the_body_are_a_422(api, body, org, alice):
    other = Workspace.objects.create(organization=org, name="Sales")
    theirs = create_template(other, name="Theirs", subject="x", text="y")
    their_list = create_list(other, "Theirs")
    for changes, field in [({"template_id": theirs.template_id}, "template_id"), ({"lists": [their_list.pk]}, "lists")]:
        response = api.post("/api/v1/campaigns", {**body, **changes})
        assert response.status_code == 422 and response.json()["errors"][0]["field"] == field


def test_list_pages_newest_first_and_filters_by_status(api, body, workspace):
    ids = [_draft(api, body, name=f"C{i}")["id"] for i in range(3)]
    api.post(f"/api/v1/campaigns/{ids[0]}/cancel")
    first = api.get("/api/v1/campaigns", workspace=workspace.pk, limit=2).json()
    assert [c["id"] for c in first["items"]] == [ids[2], ids[1]]
    assert "stats" not in first["items"][0]
    rest = api.get("/api/v1/campaigns", workspace=workspace.pk, limit=2, cursor=first["next_cursor"]).json()
    assert [c["id"] for c in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    cancelled = api.get("/api/v1/campaigns", workspace=workspace.pk, status="cancelled").json()
    assert [c["id"] for c in cancelled["items"]] == [ids[0]]
    assert api.get("/api/v1/campaigns", workspace=workspace.pk, status="done").status_code == 422
    assert api.get("/api/v1/campaigns", workspace=workspace.pk, cursor="x1").status_code == 422


def test_patch_changes_drafts_and_scheduled_ones_only(api, body, workspace, members):
    made = _draft(api, body)
    segment = Segment.objects.create(workspace=workspace, name="Ms", query='email = "m1@example.com"')
    changed = api.patch(
        f"/api/v1/campaigns/{made['id']}",
        {
            "name": "Summer",
            "segment": segment.pk,
            "response_url": "https://x.example/",
            "from": {"email": body["from"]},
        },
    )
    assert changed.status_code == 200, changed.content
    assert (changed.json()["name"], changed.json()["segment"]) == ("Summer", segment.pk)
    cleared = api.patch(f"/api/v1/campaigns/{made['id']}", {"segment": None})
    assert cleared.json()["segment"] is None and cleared.json()["name"] == "Summer"
    bad = api.patch(f"/api/v1/campaigns/{made['id']}", {"name": "", "from": "x@elsewhere.example"})
    assert bad.status_code == 422 and [e["field"] for e in bad.json()["errors"]] == ["name", "from"]
    assert Campaign.objects.get().name == "Summer"

    api.post(
        f"/api/v1/campaigns/{made['id']}/schedule", {"send_at": "2099-12-24T09:00", "time_zone": "Europe/Stockholm"}
    )
    assert api.patch(f"/api/v1/campaigns/{made['id']}", {"name": "Later"}).status_code == 200
    emptied = api.patch(f"/api/v1/campaigns/{made['id']}", {"lists": []})
    assert emptied.status_code == 422 and emptied.json()["errors"][0]["field"] == "lists"
    assert list(Campaign.objects.get().lists.values_list("pk", flat=True)) == [members.pk]

    api.post(f"/api/v1/campaigns/{made['id']}/cancel")
    refused = api.patch(f"/api/v1/campaigns/{made['id']}", {"name": "Again"})
    assert refused.status_code == 409
    assert refused.json() == {
        "error": "conflict",
        "detail": "a cancelled campaign cannot be changed: only drafts and scheduled ones can",
    }


def test_schedule_at_a_local_time_in_a_zone(api, body):
    made = _draft(api, body)
    response = api.post(
        f"/api/v1/campaigns/{made['id']}/schedule", {"send_at": "2099-12-24T09:00", "time_zone": "Europe/Stockholm"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "scheduled" and response.json()["time_zone"] == "Europe/Stockholm"
    assert datetime.fromisoformat(response.json()["send_at"]) == datetime(2099, 12, 24, 8, 0, tzinfo=UTC)
    # A scheduled campaign may be scheduled again: a new time.
    again = api.post(f"/api/v1/campaigns/{made['id']}/schedule", {"now": True})
    assert again.status_code == 200 and again.json()["status"] == "scheduled"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "send_at"),
        ({"send_at": "2099-12-24T09:00"}, "time_zone"),
        ({"send_at": "2099-12-24T09:00", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"send_at": "2099-03-29T02:30", "time_zone": "Europe/Stockholm"}, "send_at"),  # the clocks skip it
        ({"send_at": "2001-01-01T09:00", "time_zone": "Europe/Stockholm"}, "send_at"),
        ({"send_at": "2099-12-24T09:00", "time_zone": "UTC", "now": True}, "now"),
        ({"send_at": "someday", "time_zone": "UTC"}, "send_at"),
    ],
)
def test_schedule_refuses_bad_times_naming_the_field(api, body, payload, field):
    made = _draft(api, body)
    response = api.post(f"/api/v1/campaigns/{made['id']}/schedule", payload)
    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["field"] == field
    assert Campaign.objects.get().status == "draft"


def test_a_campaign_without_an_audience_cannot_be_scheduled(api, body):
    made = _draft(api, body, lists=[])
    response = api.post(f"/api/v1/campaigns/{made['id']}/schedule", {"now": True})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "lists"


def test_the_state_machine_answers_409_when_illegal(api, body):
    made = _draft(api, body)
    url = f"/api/v1/campaigns/{made['id']}"
    assert api.post(f"{url}/pause").status_code == 409
    assert api.post(f"{url}/resume").status_code == 409
    assert api.post(f"{url}/schedule", {"now": True}).json()["status"] == "scheduled"
    assert api.post(f"{url}/resume").status_code == 409
    paused = api.post(f"{url}/pause")
    assert paused.status_code == 200 and paused.json()["status"] == "paused"
    assert api.post(f"{url}/schedule", {"now": True}).status_code == 409
    assert api.post(f"{url}/resume").json()["status"] == "scheduled"

    run_due(timezone.now() + timedelta(seconds=1))
    assert api.get(url).json()["status"] == "sending"
    assert api.post(f"{url}/schedule", {"now": True}).status_code == 409
    assert api.post(f"{url}/pause").json()["status"] == "paused"
    assert api.post(f"{url}/resume").json()["status"] == "sending"
    cancelled = api.post(f"{url}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = api.post(f"{url}/cancel")
    assert again.status_code == 409
    assert again.json() == {"error": "conflict", "detail": "a cancelled campaign cannot be cancelled"}
    assert not Message.objects.filter(status="queued").exists()


def test_numbers_after_the_start_count_exclusions_and_queued_invitations(api, body, workspace, members):
    add_suppression(workspace, "m0@example.com")
    made = _draft(api, body)
    api.post(f"/api/v1/campaigns/{made['id']}/schedule", {"now": True})
    run_due(timezone.now() + timedelta(seconds=1))
    got = api.get(f"/api/v1/campaigns/{made['id']}").json()
    assert got["status"] == "sending" and got["started_at"] is not None
    stats = got["stats"]
    assert (stats["audience"], stats["excluded"]["suppressed"], stats["queued"], stats["sent"]) == (3, 1, 3, 0)
    timeline = api.get(f"/api/v1/campaigns/{made['id']}/timeline")
    assert timeline.status_code == 200 and timeline.json() == {"unit": "hour", "points": []}


def test_delete_drafts_and_finished_campaigns_but_not_live_ones(api, body):
    draft = _draft(api, body)
    assert api.delete(f"/api/v1/campaigns/{draft['id']}").status_code == 204
    assert api.get(f"/api/v1/campaigns/{draft['id']}").status_code == 404

    live = _draft(api, body, name="Live")
    api.post(f"/api/v1/campaigns/{live['id']}/schedule", {"now": True})
    refused = api.delete(f"/api/v1/campaigns/{live['id']}")
    assert refused.status_code == 409 and "cancel it first" in refused.json()["detail"]
    run_due(timezone.now() + timedelta(seconds=1))
    assert api.delete(f"/api/v1/campaigns/{live['id']}").status_code == 409
    api.post(f"/api/v1/campaigns/{live['id']}/cancel")
    invitations = list(Message.objects.values_list("pk", flat=True))
    assert len(invitations) == 4
    assert api.delete(f"/api/v1/campaigns/{live['id']}").status_code == 204
    assert not Campaign.objects.exists() and not Recipient.objects.exists() and not CampaignMessage.objects.exists()
    # The messages stay in the log, none of them queued.
    assert set(Message.objects.values_list("status", flat=True)) == {"cancelled"}


def test_viewers_read_but_change_nothing(api, body, bob):
    made = _draft(api, body)
    Membership.objects.filter(user=bob).update(role=Role.VIEWER)
    viewer = api_for(bob)
    url = f"/api/v1/campaigns/{made['id']}"
    assert viewer.get(url).status_code == 200
    assert viewer.get(f"{url}/timeline").status_code == 200
    for method, path, payload in [
        ("POST", "/api/v1/campaigns", body),
        ("PATCH", url, {"name": "Mine"}),
        ("DELETE", url, None),
        ("POST", f"{url}/schedule", {"now": True}),
        ("POST", f"{url}/pause", None),
        ("POST", f"{url}/resume", None),
        ("POST", f"{url}/cancel", None),
    ]:
        response = viewer.call(method, path, payload)
        assert response.status_code == 403, (method, path, response.content)
    assert Campaign.objects.get().status == "draft" and Campaign.objects.get().name == "Spring"


def test_a_workspace_key_uses_its_own_workspace(alice, workspace, body):
    key = api_for(alice, workspace=workspace)
    made = key.post("/api/v1/campaigns", {k: v for k, v in body.items() if k != "workspace"})
    assert made.status_code == 201 and made.json()["workspace_id"] == workspace.pk
    assert [c["id"] for c in key.get("/api/v1/campaigns").json()["items"]] == [made.json()["id"]]
