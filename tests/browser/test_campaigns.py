"""Templates and campaigns in headless Chromium, in English and in Swedish: write a template and
watch its live preview (and an error with its line), create a campaign, schedule it at a local
time, pause, resume (a conflict shown as a message), start it, send a manual reminder, respond
through the hosted link, see the numbers and the chart, cancel."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from openesp.accounts.models import Membership, Organization, Role, User, Workspace
from openesp.audience import actions
from openesp.campaigns.campaigns import resume_campaign
from openesp.campaigns.models import Campaign, Recipient, Response, Template
from openesp.campaigns.scheduling import run_due
from openesp.campaigns.tokens import response_url
from openesp.messaging.models import Category, Message

PASSWORD = "correct horse battery staple"
SCREENSHOTS = "/tmp"

EN = {
    "templates": "Templates",
    "new_template": "New template",
    "campaigns": "Campaigns",
    "new_campaign": "New campaign",
    "saved": "Saved as version 1.",
    "draft": "Draft",
    "scheduled": "Scheduled",
    "paused": "Paused",
    "sending": "Sending",
    "cancelled": "Cancelled",
    "line": "HTML, line 2",
    "conflict": "A scheduled campaign cannot be resumed.",
    "reminded": "The reminder is on its way to 2 recipients who have not responded.",
    "question": "Acme has invited you. Press the button to respond.",
    "thanks": "Your response is recorded.",
    "reason": "the server's default provider",
}
SV = {
    "templates": "Mallar",
    "new_template": "Ny mall",
    "campaigns": "Kampanjer",
    "new_campaign": "Ny kampanj",
    "saved": "Sparad som version 1.",
    "draft": "Utkast",
    "scheduled": "Schemalagd",
    "paused": "Pausad",
    "sending": "Skickas",
    "cancelled": "Avbruten",
    "line": "HTML, rad 2",
    "conflict": "Kampanjen har status ”schemalagd” och kan inte återupptas.",
    "reminded": "Påminnelsen är på väg till 2 mottagare som inte har svarat.",
    "question": "Acme har bjudit in dig. Tryck på knappen för att svara.",
    "thanks": "Ditt svar är registrerat.",
    "reason": "serverns standardleverantör",
}


@pytest.mark.parametrize(("locale", "language", "texts"), [("en-US", "en", EN), ("sv-SE", "sv", SV)])
def test_a_campaign_from_template_to_response(
    live_server, new_page, transactional_db, settings, locale, language, texts
):
    # The operator runs Mailjet (nothing is sent here: no worker runs in this test).
    settings.OPENESP_MAILJET_API_KEY, settings.OPENESP_MAILJET_SECRET_KEY = "mj-key", "mj-secret"
    settings.OPENESP_MAILJET_SENDING_DOMAIN, settings.OPENESP_DEFAULT_PROVIDER = "mail.example.com", ""
    ada = User.objects.create_user("ada@example.org", PASSWORD, name="Ada", email_verified=True)
    org = Organization.objects.create(name="Acme")
    Membership.objects.create(organization=org, user=ada, role=Role.OWNER)
    workspace = Workspace.objects.create(organization=org, name="Marketing")
    news = actions.create_list(workspace, "News")
    for name in ("Greta", "Hugo", "Ines"):
        actions.create_contact(workspace, f"{name.lower()}@example.se", name=name, language=language, lists=[news])
    base = settings.OPENESP_BASE_URL = live_server.url  # the links in the mail point at this server

    page = new_page(locale)
    page.goto(f"{base}/login/")
    page.fill("#id_username", ada.email)
    page.fill("#id_password", PASSWORD)
    page.get_by_test_id("login-submit").click()

    # --- a template, previewed as it is typed --------------------------------------------------
    page.goto(f"{base}/workspaces/{workspace.pk}/templates/")
    expect(page.locator("h1")).to_have_text(texts["templates"])
    page.get_by_test_id("new-template").click()
    expect(page.locator("h1")).to_have_text(texts["new_template"])
    page.fill("#id_name", "Invitation")
    page.fill("#id_subject", "Hello {{ contact.name }}")
    page.fill("#id_contact", "greta@example.se")
    page.locator("#id_html").fill("<p>Welcome {{ contact.name }}</p>\n{% if %}")
    expect(page.get_by_test_id("template-preview-error")).to_contain_text(texts["line"])
    page.locator("#id_html").fill(
        "<style>p { color: #123456; }</style>\n<p>Welcome {{ contact.name }}</p>\n<a href='{{ response_url }}'>Go</a>"
    )
    expect(page.get_by_test_id("template-preview-subject")).to_have_text("Hello Greta")
    expect(page.get_by_test_id("template-preview-error")).to_be_hidden()
    frame = page.frame_locator("[data-testid=template-preview-html]")
    expect(frame.locator("p")).to_have_text("Welcome Greta")
    expect(frame.locator("p")).to_have_attribute("style", re.compile("color: #123456"))  # CSS inlined
    page.screenshot(path=f"{SCREENSHOTS}/openesp-template-editor-{locale}.png", full_page=True)
    page.get_by_test_id("save-template").click()
    expect(page.locator(".flash-success")).to_have_text(texts["saved"])
    template = Template.objects.get()
    assert template.latest_version().number == 1

    # --- a campaign, with the provider its mail will take ---------------------------------------
    page.get_by_test_id("ws-tabs").get_by_role("link", name=texts["campaigns"], exact=True).click()
    page.get_by_test_id("new-campaign").click()
    expect(page.locator("h1")).to_have_text(texts["new_campaign"])
    expect(page.get_by_test_id("provider-reason")).to_contain_text(texts["reason"])
    expect(page.get_by_test_id("effective-provider").get_by_test_id("provider-name")).to_have_text("Mailjet")
    page.fill("#id_name", "Spring survey")
    page.select_option("#id_template", str(template.pk))
    expect(page.locator("#id_from_email")).to_have_value("ada@example.org")
    page.get_by_label("News").check()
    page.get_by_test_id("create-campaign").click()
    campaign = Campaign.objects.get()
    expect(page).to_have_url(f"{base}/workspaces/{workspace.pk}/campaigns/{campaign.pk}/")
    status = page.get_by_test_id("campaign-status")
    expect(status).to_have_text(texts["draft"])

    # --- schedule at a local time, pause, resume ----------------------------------------------------
    form = page.get_by_test_id("schedule-form")
    form.locator("input[name=when][value=later]").check()
    form.locator("input[name=date]").fill("2031-12-24")
    form.locator("input[name=time]").fill("09:00")
    form.locator("input[name=time_zone]").fill("Europe/Stockholm")
    page.get_by_test_id("schedule-campaign").click()
    expect(status).to_have_text(texts["scheduled"])
    expect(page.get_by_test_id("send-at")).to_contain_text("2031-12-24 09:00 Europe/Stockholm")
    page.get_by_test_id("pause-campaign").click()
    expect(status).to_have_text(texts["paused"])
    # Somebody else resumes it meanwhile: this page's Resume is now a conflict, told as a message.
    resume_campaign(Campaign.objects.get())
    page.get_by_test_id("resume-campaign").click()
    expect(page.locator(".flash-error")).to_have_text(texts["conflict"])
    expect(status).to_have_text(texts["scheduled"])

    # --- now: the worker starts it; a manual reminder ---------------------------------------------
    form = page.get_by_test_id("schedule-form")
    form.locator("input[name=when][value=now]").check()
    expect(form.locator("input[name=date]")).to_be_hidden()
    page.get_by_test_id("schedule-campaign").click()
    expect(status).to_have_text(texts["scheduled"])
    assert run_due().started == [campaign.pk]  # what the worker does when the campaign is due
    page.reload()
    expect(status).to_have_text(texts["sending"])
    expect(page.locator("[data-stat=audience]")).to_have_text("3")

    greta = Recipient.objects.get(campaign=campaign, email="greta@example.se")
    responder = new_page(locale)
    responder.goto(response_url(greta.pk))
    expect(responder.get_by_test_id("respond-question")).to_have_text(texts["question"])
    assert not Response.objects.exists()  # showing the page records nothing
    responder.screenshot(path=f"{SCREENSHOTS}/openesp-respond-{locale}.png", full_page=True)
    responder.get_by_test_id("respond-button").click()
    expect(responder.get_by_test_id("respond-done")).to_have_text(texts["thanks"])
    assert Response.objects.get().recipient == greta

    page.get_by_test_id("reminder-form").locator("input[name=when][value=now]").check()
    page.get_by_test_id("send-reminder").click()
    expect(page.locator(".flash-success")).to_have_text(texts["reminded"])
    reminded = Message.objects.filter(category=Category.REMINDER).values_list("to_email", flat=True)
    assert sorted(reminded) == ["hugo@example.se", "ines@example.se"]
    expect(page.locator("[data-stat=responded]")).to_have_text("1")
    expect(page.get_by_test_id("campaign-chart")).to_have_attribute("data-drawn", "true")
    expect(page.get_by_test_id("campaign-chart").locator("canvas")).to_have_count(1)
    page.screenshot(path=f"{SCREENSHOTS}/openesp-campaign-{locale}.png", full_page=True)

    # --- cancel ---------------------------------------------------------------------------------
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("cancel-campaign").click()
    expect(status).to_have_text(texts["cancelled"])
    assert not Message.objects.filter(category=Category.INVITATION, status="queued").exists()
