"""The statistics page, its CSV, and the message log's campaign filter (web UI and API)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from django.test import Client
from django.urls import reverse

from openesp.accounts.models import Membership, Organization, Role, User, Workspace
from openesp.campaigns.campaigns import schedule_campaign
from openesp.campaigns.models import Campaign, CampaignMessage
from openesp.campaigns.scheduling import start_campaign
from openesp.messaging.submit import parse_submission, submit
from tests.api.conftest import api_for


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _start(campaign: Campaign) -> None:
    now = datetime.now(UTC)
    schedule_campaign(campaign, now=now)
    start_campaign(campaign.pk, now)


def test_the_page_shows_a_workspaces_numbers_by_each_grouping(alice, bob, org, workspace, campaign):
    _start(campaign)
    body = {"from": "alice@example.org", "to": ["x@example.com"], "subject": "Hi", "text": "Hi"}
    submit(alice, parse_submission(body), workspace=workspace, organization=org)
    url = reverse("ws-stats", args=[workspace.pk])
    page = _client(bob).get(url)  # a member, not only the owner
    assert page.status_code == 200
    assert page.context["total"]["requested"] == 6  # five invitations and one transactional message
    assert len(page.context["rows"]) == 30
    by_campaign = _client(bob).get(url, {"group_by": "campaign"})
    assert [(r["campaign_id"], r["name"], r["requested"]) for r in by_campaign.context["rows"]] == [
        (None, "", 1),
        (campaign.pk, "Spring", 5),
    ]
    assert "Spring" in by_campaign.content.decode()
    narrowed = _client(bob).get(url, {"campaign": campaign.pk, "group_by": "category"})
    assert [(r["category"], r["requested"]) for r in narrowed.context["rows"]] == [("invitation", 5)]


def test_bad_filters_are_named_and_the_default_shown(alice, workspace):
    page = _client(alice).get(reverse("ws-stats", args=[workspace.pk]), {"from": "soon", "group_by": "week"})
    assert page.status_code == 200
    assert "from: is not an ISO date" in page.context["problem"]
    assert page.context["group_by"] == "day"


def test_the_csv_has_every_counter_and_guards_its_cells(alice, workspace, campaign):
    Campaign.objects.filter(pk=campaign.pk).update(name='=HYPERLINK("http://evil.example")')
    _start(campaign)
    response = _client(alice).get(reverse("ws-stats", args=[workspace.pk]), {"group_by": "campaign", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Cache-Control"] == "no-store"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert list(rows[0])[:4] == ["campaign_id", "campaign_name", "requested", "sent"]
    assert list(rows[0])[-3:] == ["delivery_rate", "open_rate", "click_rate"]
    (row,) = rows
    assert row["campaign_name"] == '\'=HYPERLINK("http://evil.example")'
    assert (row["requested"], row["delivery_rate"]) == ("5", "")


def test_outsiders_and_foreign_campaigns_get_404(alice, charlie, workspace, campaign):
    url = reverse("ws-stats", args=[workspace.pk])
    assert _client(charlie).get(url).status_code == 404
    other = Organization.objects.create(name="Globex")
    Membership.objects.create(organization=other, user=charlie, role=Role.OWNER)
    own = Workspace.objects.create(organization=other, name="Shop")
    foreign = _client(charlie).get(reverse("ws-stats", args=[own.pk]), {"campaign": campaign.pk})
    assert foreign.status_code == 404  # not the workspace's campaign: as if it did not exist


def test_the_message_log_narrows_to_a_campaign(alice, org, workspace, campaign):
    _start(campaign)
    body = {"from": "alice@example.org", "to": ["x@example.com"], "subject": "Hi", "text": "Hi"}
    submit(alice, parse_submission(body), workspace=workspace, organization=org)
    log = reverse("ws-messages", args=[workspace.pk])
    assert len(_client(alice).get(log).context["rows"]) == 6
    page = _client(alice).get(log, {"campaign": campaign.pk})
    assert {m.pk for m, _route in page.context["rows"]} == set(
        CampaignMessage.objects.filter(campaign=campaign).values_list("message_id", flat=True)
    )
    # Another workspace's campaign is no choice: the filter is refused and ignored.
    assert "campaign" in _client(alice).get(log, {"campaign": 987654}).context["form"].errors

    api = api_for(alice, scopes=["messages.read"])
    items = api.get("/api/v1/messages", campaign=campaign.pk).json()["items"]
    assert len(items) == 5 and {i["category"] for i in items} == {"invitation"}
    assert api.get("/api/v1/messages", campaign=987654).status_code == 404
    assert api.get("/api/v1/messages", until="2000-01-01T00:00:00Z").json()["items"] == []
