"""``GET /api/v1/stats``: the counters of a workspace's mail, as the worker and events made them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.utils import timezone

from openesp.accounts.actions import create_organization
from openesp.accounts.models import Workspace
from openesp.messaging.eventlog import add_events
from openesp.messaging.models import Event, EventType, Message
from tests.api.conftest import api_for

URL = "/api/v1/stats"
ROW_FIELDS = {
    "requested", "sent", "delivered", "deferred", "bounced_hard", "bounced_soft", "dropped", "opened",
    "opened_human", "clicked", "clicked_human", "complained", "unsubscribed", "responded", "delivery_rate",
    "open_rate", "click_rate",
}  # fmt: skip


def _send(api, workspace, *to):
    body = {"from": "alice@example.org", "to": list(to), "subject": "Hi", "text": "Hi", "workspace": workspace.pk}
    response = api.post("/api/v1/messages", body)
    assert response.status_code == 202, response.content
    return response.json()["ids"]


def test_it_counts_mail_accepted_and_sent_through_the_worker(alice, workspace, relay, worker):
    api = api_for(alice, workspace=workspace, scopes=["messages.send", "stats"])
    _send(api, workspace, "a@example.net", "b@example.net")
    assert worker.run_once() == 2
    assert len(relay.messages) == 2

    rows = api.get(URL).json()["rows"]
    assert len(rows) == 30  # the last 30 days by default, every day a row
    today = rows[-1]
    assert today["day"] == timezone.now().date().isoformat()
    assert set(today) == ROW_FIELDS | {"day"}
    assert (today["requested"], today["sent"], today["delivered"]) == (2, 2, 0)
    assert (today["delivery_rate"], today["open_rate"]) == (0.0, None)  # none delivered of 2 sent; none to open
    assert all(r["requested"] == 0 for r in rows[:-1])

    by_provider = {r["provider"]: r for r in api.get(URL, group_by="provider").json()["rows"]}
    assert set(by_provider) == {"", "relay"}  # requested before a provider was chosen; sent by the relay
    assert (by_provider[""]["requested"], by_provider["relay"]["sent"]) == (2, 2)
    (by_category,) = api.get(URL, group_by="category").json()["rows"]
    assert (by_category["category"], by_category["sent"]) == ("transactional", 2)


def test_rates_and_filters(alice, workspace, campaign):
    api = api_for(alice, workspace=workspace, scopes=["messages.send", "stats"])
    ids = _send(api, workspace, "a@example.net", "b@example.net", "c@example.net", "d@example.net")
    messages = list(Message.objects.filter(public_id__in=ids).order_by("id"))
    Message.objects.filter(pk__in=[m.pk for m in messages]).update(provider_kind="mailjet")
    on = datetime(2026, 10, 5, 12, tzinfo=UTC)
    events = [Event(message=m, type=EventType.SENT, created_at=on) for m in messages]
    events += [Event(message=m, type=EventType.DELIVERED, created_at=on) for m in messages[:3]]
    events += [Event(message=messages[0], type=EventType.OPENED, created_at=on, data={"first": True})]
    events += [Event(message=messages[0], type=EventType.OPENED, created_at=on, data={"machine": True})]
    events += [Event(message=messages[1], type=EventType.CLICKED, created_at=on, data={"first": True})]
    add_events(events)

    (row,) = api.get(URL, **{"from": "2026-10-05", "to": "2026-10-05"}).json()["rows"]
    assert (row["day"], row["sent"], row["delivered"], row["opened"], row["opened_human"]) == ("2026-10-05", 4, 3, 2, 1)
    assert (row["delivery_rate"], row["open_rate"], row["click_rate"]) == (0.75, 0.3333, 0.3333)

    rows = api.get(URL, **{"from": "2026-10-01", "to": "2026-10-31", "group_by": "campaign"}).json()["rows"]
    assert [(r["campaign_id"], r["sent"]) for r in rows] == [(None, 4)]  # mail of no campaign
    rows = api.get(URL, **{"from": "2026-10-01", "to": "2026-10-31", "campaign": campaign.pk}).json()["rows"]
    assert sum(r["sent"] for r in rows) == 0
    rows = api.get(URL, **{"from": "2026-10-01", "to": "2026-10-31", "category": "invitation"}).json()["rows"]
    assert sum(r["sent"] for r in rows) == 0


def test_it_names_the_field_at_fault(alice, workspace):
    api = api_for(alice, workspace=workspace, scopes=["stats"])
    cases = [
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "2026-10-02", "to": "2026-10-01"}, "from"),
        ({"from": "2024-01-01", "to": "2026-01-01"}, "from"),
        ({"group_by": "hour"}, "group_by"),
    ]
    for query, field in cases:
        response = api.get(URL, **query)
        assert response.status_code == 422, query
        assert [e["field"] for e in response.json()["errors"]] == [field]


def test_it_needs_the_stats_scope_and_a_workspace(alice, workspace):
    assert api_for(alice, workspace=workspace, scopes=["contacts"]).get(URL).status_code == 403
    response = api_for(alice, scopes=["stats"]).get(URL)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "workspace"
    assert api_for(alice, scopes=["stats"]).get(URL, workspace=workspace.pk).status_code == 200


def test_a_foreign_campaign_under_the_callers_own_workspace_is_404(alice, workspace, campaign, charlie, charlie_org):
    own = Workspace.objects.create(organization=charlie_org, name="Charlie's")
    api = api_for(charlie, workspace=own, scopes=["stats"])
    foreign = api.get(URL, campaign=campaign.pk)
    missing = api.get(URL, campaign=987654321)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    # alice's other organization does not see Acme's campaign either
    globex = Workspace.objects.create(organization=create_organization(alice, "Globex"), name="Shop")
    assert api_for(alice, workspace=globex, scopes=["stats"]).get(URL, campaign=campaign.pk).status_code == 404


def test_another_workspaces_counts_are_not_mixed_in(alice, org, workspace):
    other = Workspace.objects.create(organization=org, name="Other")
    _send(api_for(alice, workspace=other, scopes=["messages.send"]), other, "x@example.net")
    rows = api_for(alice, workspace=workspace, scopes=["stats"]).get(URL).json()["rows"]
    assert sum(r["requested"] for r in rows) == 0
    rows = api_for(alice, workspace=other, scopes=["stats"]).get(URL).json()["rows"]
    assert sum(r["requested"] for r in rows) == 1


def test_a_year_at_most(alice, workspace):
    api = api_for(alice, workspace=workspace, scopes=["stats"])
    last = date(2026, 6, 30)
    rows = api.get(URL, **{"from": (last - timedelta(days=365)).isoformat(), "to": last.isoformat()}).json()["rows"]
    assert len(rows) == 366
