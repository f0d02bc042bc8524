"""Campaign actions: create, schedule (now or a local time in an IANA zone), pause, resume, cancel."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from openesp.campaigns.campaigns import (
    cancel_campaign,
    create_campaign,
    pause_campaign,
    resume_campaign,
    schedule_campaign,
)
from openesp.campaigns.errors import Conflict
from openesp.campaigns.models import CampaignStatus
from openesp.lib.errors import InvalidInput

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_it_creates_a_draft_with_the_acting_user(campaign, alice):
    assert campaign.status == CampaignStatus.DRAFT
    assert campaign.created_by == alice
    assert campaign.from_email == "alice@example.org"


def test_it_refuses_a_sender_the_user_may_not_use(workspace, alice, version, members):
    with pytest.raises(InvalidInput) as caught:
        create_campaign(
            workspace, alice, name="X", template_version=version, from_email="ceo@bank.example", lists=[members]
        )
    assert "is not a sender you may use" in caught.value.as_dict()["from"]


def test_it_names_every_wrong_field(workspace, alice, version):
    with pytest.raises(InvalidInput) as caught:
        create_campaign(workspace, alice, name=" ", template_version=version, from_email="nope", response_url="ftp://x")
    assert set(caught.value.as_dict()) == {"name", "from", "response_url"}


def test_it_schedules_a_local_time_in_a_named_zone(campaign):
    schedule_campaign(campaign, send_at=datetime(2026, 12, 24, 9, 0), time_zone="Europe/Stockholm", now=NOW)
    assert campaign.status == CampaignStatus.SCHEDULED
    assert campaign.send_at == datetime(2026, 12, 24, 8, 0, tzinfo=UTC)
    assert campaign.time_zone == "Europe/Stockholm"


def test_it_schedules_now(campaign):
    schedule_campaign(campaign, now=NOW)
    assert (campaign.status, campaign.send_at) == (CampaignStatus.SCHEDULED, NOW)


@pytest.mark.parametrize(
    ("send_at", "zone", "field", "reason"),
    [
        (datetime(2026, 12, 24, 9), "Mars/Olympus", "time_zone", "is not an IANA time zone name"),
        (datetime(2027, 3, 28, 2, 30), "Europe/Stockholm", "send_at", "does not exist in Europe/Stockholm"),
        (datetime(2026, 11, 30, 9), "Europe/Stockholm", "send_at", "is in the past"),
        (datetime(2026, 12, 24, 9), "", "time_zone", "is required"),
    ],
)
def test_it_refuses_a_time_that_cannot_be(campaign, send_at, zone, field, reason):
    with pytest.raises(InvalidInput) as caught:
        schedule_campaign(campaign, send_at=send_at, time_zone=zone, now=NOW)
    assert reason in caught.value.as_dict()[field]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.DRAFT


def test_it_refuses_to_schedule_without_an_audience(workspace, alice, version):
    campaign = create_campaign(workspace, alice, name="X", template_version=version, from_email="alice@example.org")
    with pytest.raises(InvalidInput, match="no audience"):
        schedule_campaign(campaign, now=NOW)


def test_it_pauses_and_resumes_a_scheduled_campaign(campaign):
    schedule_campaign(campaign, now=NOW)
    pause_campaign(campaign, now=NOW)
    assert campaign.status == CampaignStatus.PAUSED
    resume_campaign(campaign, now=NOW)
    assert campaign.status == CampaignStatus.SCHEDULED


@pytest.mark.parametrize(
    ("action", "state", "message"),
    [
        (pause_campaign, CampaignStatus.DRAFT, "a draft campaign cannot be paused"),
        (resume_campaign, CampaignStatus.SCHEDULED, "a scheduled campaign cannot be resumed"),
        (cancel_campaign, CampaignStatus.SENT, "a sent campaign cannot be cancelled"),
        (cancel_campaign, CampaignStatus.CANCELLED, "a cancelled campaign cannot be cancelled"),
        (pause_campaign, CampaignStatus.SENT, "a sent campaign cannot be paused"),
    ],
)
def test_it_refuses_illegal_transitions(campaign, action, state, message):
    campaign.status = state
    campaign.save()
    with pytest.raises(Conflict, match=message):
        action(campaign, now=NOW)


def test_it_refuses_to_schedule_a_sending_campaign(campaign):
    campaign.status = CampaignStatus.SENDING
    campaign.save()
    with pytest.raises(Conflict, match="a sending campaign cannot be scheduled"):
        schedule_campaign(campaign, now=NOW)


def test_it_cancels_a_draft(campaign):
    cancel_campaign(campaign, now=NOW)
    assert (campaign.status, campaign.finished_at) == (CampaignStatus.CANCELLED, NOW)
