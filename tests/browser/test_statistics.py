"""The campaign page's delivery dashboard and the workspace's statistics page in headless
Chromium, in English and in Swedish: the chart is drawn, and the numbers are the ones the
daily counters hold."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone
from playwright.sync_api import expect

from openesp.accounts.models import Membership, Organization, Role, User, Workspace
from openesp.audience import actions
from openesp.campaigns.campaigns import create_campaign, schedule_campaign
from openesp.campaigns.models import Campaign, CampaignMessage
from openesp.campaigns.scheduling import start_campaign
from openesp.campaigns.templates import create_template
from openesp.messaging.eventlog import add_events
from openesp.messaging.models import Event, EventType, Message
from openesp.stats.models import DailyCounter

PASSWORD = "correct horse battery staple"
EN = {"delivery": "Delivery and engagement", "statistics": "Statistics", "rate": "Open rate"}
SV = {"delivery": "Leverans och engagemang", "statistics": "Statistik", "rate": "Öppningsgrad"}


@pytest.mark.parametrize(("locale", "texts"), [("en-US", EN), ("sv-SE", SV)])
def test_the_campaign_dashboard_shows_what_the_counters_hold(live_server, new_page, transactional_db, locale, texts):
    ada = User.objects.create_user("ada@example.org", PASSWORD, name="Ada", email_verified=True)
    org = Organization.objects.create(name="Acme")
    Membership.objects.create(organization=org, user=ada, role=Role.OWNER)
    workspace = Workspace.objects.create(organization=org, name="Marketing")
    news = actions.create_list(workspace, "News")
    for n in range(6):
        actions.create_contact(workspace, f"p{n}@example.se", name=f"P{n}", lists=[news])
    version = create_template(workspace, name="Invite", subject="Hi", html="<p>Hi</p>", actor=ada)
    campaign = create_campaign(
        workspace, ada, name="Spring", template_version=version, from_email="ada@example.org", lists=[news]
    )
    now = timezone.now()
    # Drafted two days ago, started yesterday: its dashboard's days begin with the draft.
    Campaign.objects.filter(pk=campaign.pk).update(created_at=now - timedelta(days=2))
    now -= timedelta(days=1)
    schedule_campaign(campaign, now=now)
    start_campaign(campaign.pk, now)
    ids = list(CampaignMessage.objects.filter(campaign=campaign).values_list("message_id", flat=True))
    Message.objects.filter(id__in=ids).update(provider_kind="mailjet", status="sent")
    messages = list(Message.objects.filter(id__in=ids).order_by("id"))
    later = now + timedelta(days=1)
    events = [Event(message=m, type=EventType.SENT, created_at=now) for m in messages]
    events += [Event(message=m, type=EventType.DELIVERED, created_at=now) for m in messages[:5]]
    events += [Event(message=messages[5], type=EventType.BOUNCED, created_at=later, enhanced_status="5.1.1")]
    events += [Event(message=m, type=EventType.OPENED, created_at=later, data={"first": True}) for m in messages[:2]]
    events += [Event(message=messages[0], type=EventType.CLICKED, created_at=later, data={"first": True})]
    add_events(events)
    held = DailyCounter.objects.filter(campaign_id=campaign.pk).aggregate(
        requested=Sum("requested"), sent=Sum("sent"), delivered=Sum("delivered"), bounced_hard=Sum("bounced_hard"),
        opened_unique=Sum("opened_unique"), clicked_unique=Sum("clicked_unique"),
    )  # fmt: skip
    assert held == {
        "requested": 6, "sent": 6, "delivered": 5, "bounced_hard": 1, "opened_unique": 2, "clicked_unique": 1,
    }  # fmt: skip

    page = new_page(locale)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", ada.email)
    page.fill("#id_password", PASSWORD)
    page.get_by_test_id("login-submit").click()

    page.goto(f"{live_server.url}/workspaces/{workspace.pk}/campaigns/{campaign.pk}/")
    card = page.get_by_test_id("campaign-delivery")
    expect(card.locator("h2")).to_have_text(texts["delivery"])
    for counter, value in held.items():
        expect(card.locator(f"[data-counter={counter}]")).to_have_text(str(value))
    expect(card.locator("[data-counter=open_rate]")).to_have_text(_decimal(locale, "40.0 %"))  # 2 of 5 delivered
    expect(card.get_by_text(texts["rate"])).to_be_visible()
    chart = page.get_by_test_id("campaign-delivery-chart")
    expect(chart).to_have_attribute("data-drawn", "true")
    expect(chart.locator("canvas")).to_have_count(1)
    page.screenshot(path=f"/tmp/openesp-campaign-delivery-{locale}.png", full_page=True)

    page.get_by_test_id("campaign-stats-link").click()
    expect(page.locator("h1")).to_contain_text(texts["statistics"])
    summary = page.get_by_test_id("stats-summary")
    for counter, value in held.items():
        expect(summary.locator(f"[data-counter={counter}]")).to_have_text(str(value))
    expect(page.get_by_test_id("stats-chart")).to_have_attribute("data-drawn", "true")
    expect(page.get_by_test_id("stats-row")).to_have_count(30)  # by day, the last 30


def _decimal(locale: str, text: str) -> str:
    return text.replace(".", ",") if locale.startswith("sv") else text
