"""Automations and category messages in headless Chromium, in English and in Swedish: create an
automation (a list trigger with a delay), pause it; send a category message at a local time."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from openesp.accounts.models import Membership, Organization, Role, User, Workspace
from openesp.audience import actions, categories
from openesp.campaigns.models import Automation, AutomationStatus, CategoryMessage
from openesp.campaigns.templates import create_template

PASSWORD = "correct horse battery staple"
SCREENSHOTS = "/tmp"

TEXTS = {
    "en-US": {"automations": "Automations", "new_automation": "New automation", "catmessages": "Category messages",
              "new_catmessage": "New category message", "active": "Active", "paused": "Paused",
              "scheduled": "Scheduled", "save": "Save"},
    "sv-SE": {"automations": "Automatiseringar", "new_automation": "Ny automatisering",
              "catmessages": "Kategorimeddelanden", "new_catmessage": "Nytt kategorimeddelande", "active": "Aktiv",
              "paused": "Pausad", "scheduled": "Schemalagd", "save": "Spara"},
}  # fmt: skip


@pytest.mark.parametrize("locale", ["en-US", "sv-SE"])
def test_an_automation_and_a_category_message_are_made(live_server, new_page, transactional_db, locale):
    texts = TEXTS[locale]
    ada = User.objects.create_user("ada@example.org", PASSWORD, name="Ada", email_verified=True)
    org = Organization.objects.create(name="Acme")
    Membership.objects.create(organization=org, user=ada, role=Role.OWNER)
    workspace = Workspace.objects.create(organization=org, name="Marketing")
    members = actions.create_list(workspace, "Members")
    news = categories.create_category(workspace, "News")
    categories.subscribe_category(actions.create_contact(workspace, "reader@example.com"), news)
    template = create_template(workspace, name="Invite", subject="Hi {{ contact.name }}", text="t", actor=ada).template

    page = new_page(locale)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", ada.email)
    page.fill("#id_password", PASSWORD)
    page.get_by_test_id("login-submit").click()

    # An automation: a new subscriber of Members gets the invitation 30 minutes later.
    page.goto(f"{live_server.url}/workspaces/{workspace.pk}/automations/")
    expect(page.locator("h1")).to_have_text(texts["automations"])
    expect(page.get_by_test_id("no-automations")).to_be_visible()
    page.get_by_test_id("new-automation").click()
    expect(page.locator("h1")).to_have_text(texts["new_automation"])
    page.fill("#id_name", "Welcome")
    page.select_option("#id_trigger", "list_subscribed")
    page.select_option("#id_trigger_list", str(members.pk))
    page.fill("#id_delay_minutes", "30")
    page.select_option("#id_template", str(template.pk))
    expect(page.locator("#id_from_email")).to_have_value(ada.email)
    page.screenshot(path=f"{SCREENSHOTS}/openesp-automation-form-{locale}.png", full_page=True)
    page.get_by_test_id("save-automation").click()

    automation = Automation.objects.get()
    expect(page).to_have_url(f"{live_server.url}/workspaces/{workspace.pk}/automations/{automation.pk}/")
    expect(page.get_by_test_id("automation-status")).to_have_text(texts["active"])
    expect(page.get_by_test_id("automation-trigger")).to_contain_text("Members")
    page.get_by_test_id("pause-automation").click()
    expect(page.get_by_test_id("automation-status")).to_have_text(texts["paused"])
    automation.refresh_from_db()
    assert (automation.status, automation.delay_minutes) == (AutomationStatus.PAUSED, 30)
    page.get_by_test_id("ws-tabs").get_by_role("link", name=texts["automations"], exact=True).click()
    expect(page.locator('tr[data-automation="Welcome"]')).to_be_visible()

    # A category message at 09:00 on Christmas Eve, Stockholm time.
    page.get_by_test_id("ws-tabs").get_by_role("link", name=texts["catmessages"], exact=True).click()
    expect(page.get_by_test_id("no-catmessages")).to_be_visible()
    page.get_by_test_id("new-catmessage").click()
    expect(page.locator("h1")).to_have_text(texts["new_catmessage"])
    page.select_option("#id_category", str(news.pk))
    page.select_option("#id_template", str(template.pk))
    page.check("input[name=when][value=later]")
    page.fill("#id_send_at", "2099-12-24T09:00")
    page.fill("#id_time_zone", "Europe/Stockholm")
    page.screenshot(path=f"{SCREENSHOTS}/openesp-category-message-form-{locale}.png", full_page=True)
    page.get_by_test_id("send-catmessage").click()

    message = CategoryMessage.objects.get()
    expect(page).to_have_url(f"{live_server.url}/workspaces/{workspace.pk}/category-messages/{message.pk}/")
    expect(page.get_by_test_id("catmessage-status")).to_have_text(texts["scheduled"])
    expect(page.get_by_test_id("catmessage-send-at")).to_contain_text("2099-12-24 09:00 Europe/Stockholm")
    assert message.campaign.send_at.isoformat() == "2099-12-24T08:00:00+00:00"
