"""The judged story, in English and in Swedish, in headless Chromium.

Sign up; create an organization and a workspace; invite a colleague (a queued org_invitation
Message); choose SendGrid, then Mailjet (both run by local test servers); fill the custom form
and press *Test connection* against a real aiosmtpd server with AUTH on loopback, which receives
the test mail; the owner enforces the organization's provider and the colleague's Email status
page shows it as effective, with the reason.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from openesp.accounts.models import Membership, User
from openesp.esp.models import EspConfig
from openesp.messaging.models import Category, Message

PASSWORD = "correct horse battery staple"
SCREENSHOTS = Path("/tmp")

# What the pages say, by language: the test reads the page as a person would.
WORDS = {
    "en": {
        "locale": "en-US",
        "welcome": "Welcome, Ada",
        "account": "Account",
        "organization": "Organization",
        "email_status": "Email status",
        "email_settings": "Email settings",
        "personal": "your personal setting",
        "custom": "Custom email provider",
        "test_ok": "Connection succeeded.",
        "enforced": "Enforced for all members",
        "reason": "enforced by organization Acme",
        "settings": "Settings",
    },
    "sv": {
        "locale": "sv-SE",
        "welcome": "Välkommen, Ada",
        "account": "Konto",
        "organization": "Organisation",
        "email_status": "E-poststatus",
        "email_settings": "E-postinställningar",
        "personal": "din personliga inställning",
        "custom": "Egen e-postleverantör",
        "test_ok": "Anslutningen lyckades.",
        "enforced": "Används för alla medlemmar",
        "reason": "genomdrivs av organisationen Acme",
        "settings": "Inställningar",
    },
}


def _sign_up(page: Page, base: str, email: str, name: str) -> None:
    page.goto(f"{base}/signup/")
    page.fill("#id_email", email)
    page.fill("#id_name", name)
    page.fill("#id_password", PASSWORD)
    page.get_by_test_id("signup-submit").click()


def _open_user_menu(page: Page, item: str) -> None:
    page.get_by_test_id("user-menu").click()
    page.get_by_role("menuitem", name=item, exact=True).click()


def _choose(page: Page, kind: str) -> None:
    page.get_by_test_id("current-provider").click()
    page.get_by_test_id(f"use-{kind}").click()


@pytest.mark.parametrize("lang", ["en", "sv"])
def test_the_story(
    lang, live_server, new_page, settings, sendgrid_server, mailjet_server, smtp_server, transactional_db
):
    words = WORDS[lang]
    base = live_server.url
    settings.OPENESP_SENDGRID_SENDING_DOMAIN = "mail.example.com"
    settings.OPENESP_MAILJET_SENDING_DOMAIN = "mail02.example.com"
    settings.OPENESP_EGRESS_IPS = ["20.67.184.104", "51.104.183.88"]

    # Sign up: logged in, with a verification mail queued.
    owner = new_page(words["locale"])
    _sign_up(owner, base, "ada@example.org", "Ada")
    expect(owner.locator("h1")).to_have_text(words["welcome"])
    ada = User.objects.get(email="ada@example.org")
    assert ada.language == lang
    assert Message.objects.filter(to_email=ada.email, category=Category.SYSTEM).exists()

    # An organization and a workspace.
    _open_user_menu(owner, words["organization"])
    owner.fill("#id_name", "Acme")
    owner.get_by_test_id("create-org").click()
    owner.fill("#id_name", "Marketing")
    owner.get_by_test_id("create-workspace").click()
    expect(owner.get_by_test_id("workspace-table")).to_contain_text("Marketing")

    # Invite a colleague: the mail is a queued Message of category org_invitation.
    owner.locator("#sidenav a[href$='/invitations/']").click()
    owner.fill("#id_email", "grace@example.org")
    owner.get_by_test_id("send-invitation").click()
    expect(owner.get_by_test_id("invitation-table")).to_contain_text("grace@example.org")
    invitation_mail = Message.objects.get(to_email="grace@example.org")
    assert invitation_mail.category == Category.ORG_INVITATION
    link = re.search(r"https?://\S+/invitations/\S+/", invitation_mail.text_body).group(0)

    # The colleague follows the link, signs up with the address filled in, and accepts.
    colleague = new_page(words["locale"])
    colleague.goto(base + link[link.index("/invitations/") :])
    expect(colleague.get_by_test_id("invitation-summary")).to_contain_text("Acme")
    colleague.get_by_test_id("signup-to-accept").click()
    expect(colleague.locator("#id_email")).to_have_value("grace@example.org")
    colleague.fill("#id_name", "Grace")
    colleague.fill("#id_password", PASSWORD)
    colleague.get_by_test_id("signup-submit").click()
    colleague.get_by_test_id("accept").click()
    assert Membership.objects.filter(organization__name="Acme", user__email="grace@example.org").exists()

    # Account → Email status: the current provider; click it; SendGrid, then Mailjet.
    _open_user_menu(owner, words["account"])
    owner.get_by_test_id("nav-email-status").click()
    expect(owner.locator("h1")).to_have_text(words["email_status"])
    expect(owner.get_by_test_id("email-settings")).to_contain_text(words["email_settings"])
    _choose(owner, "sendgrid")
    expect(owner.get_by_test_id("current-provider")).to_contain_text("SendGrid")
    expect(owner.get_by_test_id("provider-reason")).to_contain_text(words["personal"])
    _choose(owner, "mailjet")
    expect(owner.get_by_test_id("current-provider")).to_contain_text("Mailjet")
    assert EspConfig.objects.get(user=ada).kind == "mailjet"
    expect(owner.get_by_test_id("allowlist-sendgrid")).to_contain_text("mail.example.com")

    # The custom form; Test connection against the real SMTP server (STARTTLS + AUTH).
    _choose(owner, "smtp")
    expect(owner.get_by_test_id("egress-ips")).to_contain_text("20.67.184.104")
    owner.fill("#id_host", smtp_server.host)
    owner.fill("#id_port", str(smtp_server.port))
    owner.select_option("#id_security", "starttls")
    owner.fill("#id_from_email", "news@example.com")
    owner.fill("#id_username", "mailer")
    owner.fill("#id_password", "s3cret-Pa55word!")
    owner.get_by_test_id("test-connection").click()
    result = owner.get_by_test_id("test-result")
    expect(result).to_have_attribute("data-ok", "true")
    expect(result).to_contain_text(words["test_ok"])
    assert [m.rcpt_tos for m in smtp_server.messages] == [[ada.email]]
    assert smtp_server.messages[0].authenticated_as == "mailer"
    expect(owner.locator("#id_password")).to_have_value("")  # never filled back
    owner.fill("#id_password", "s3cret-Pa55word!")
    owner.get_by_test_id("save-custom").click()
    expect(owner.get_by_test_id("current-provider")).to_contain_text(words["custom"])
    assert "s3cret-Pa55word!" not in owner.content()
    if lang == "en":
        owner.screenshot(path=str(SCREENSHOTS / "openesp-email-status.png"), full_page=True)

    # The colleague picks a personal provider of her own.
    colleague.goto(f"{base}/account/email/")
    _choose(colleague, "mailjet")

    # Organization → Settings → Email provider: SendGrid, enforced for all members.
    _open_user_menu(owner, words["organization"])
    owner.get_by_role("link", name=words["settings"]).first.click()
    owner.get_by_test_id("choose-org-provider").click()
    owner.get_by_test_id("use-sendgrid").click()
    owner.locator("label.switch").click()  # the switch saves itself
    expect(owner.get_by_test_id("org-provider")).to_contain_text(words["enforced"])
    assert EspConfig.objects.get(organization__name="Acme").enforced

    # The colleague's Email status page shows the organization's provider as effective, and why.
    colleague.goto(f"{base}/account/email/")
    enforced = colleague.locator("[data-testid^=enforced-]").first
    expect(enforced).to_contain_text("SendGrid")
    expect(colleague.get_by_test_id("enforced-reason")).to_have_text(words["reason"])
    expect(colleague.get_by_test_id("org-effective")).to_contain_text(words["reason"])
    if lang == "sv":
        colleague.screenshot(path=str(SCREENSHOTS / "openesp-email-status-sv-member.png"), full_page=True)
