"""Contacts, lists and suppressions in headless Chromium, in English and in Swedish: make a list,
add a contact with attributes, filter, unsubscribe and subscribe again, read the consent
history, suppress and lift an address, erase the contact."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from openesp.accounts.models import Membership, Organization, Role, User, Workspace
from openesp.audience import actions, suppressions
from openesp.audience.models import ConsentRecord, Contact, Suppression, SuppressionAudit

PASSWORD = "correct horse battery staple"
SCREENSHOTS = "/tmp"

WORDS = {
    "en": {
        "locale": "en-US",
        "contacts": "Contacts",
        "lists": "Lists",
        "suppressions": "Suppressions",
        "active": "Active",
        "subscribed": "Subscribed",
        "unsubscribed": "Unsubscribed",
        "ledger": "Consent history",
        "erase": "Erase contact",
        "operator": "Operator",
        "added": "Added",
        "removed": "Removed",
        "gdpr": "Download everything (GDPR)",
    },
    "sv": {
        "locale": "sv-SE",
        "contacts": "Kontakter",
        "lists": "Listor",
        "suppressions": "Spärrar",
        "active": "Aktiv",
        "subscribed": "Prenumererar",
        "unsubscribed": "Avregistrerad",
        "ledger": "Samtyckeshistorik",
        "erase": "Radera kontakten",
        "operator": "Operatör",
        "added": "Tillagd",
        "removed": "Borttagen",
        "gdpr": "Ladda ner allt (GDPR)",
    },
}


@pytest.mark.parametrize("lang", ["en", "sv"])
def test_contacts_lists_and_suppressions(live_server, new_page, transactional_db, lang):
    words = WORDS[lang]
    ada = User.objects.create_user("ada@example.org", PASSWORD, name="Ada", email_verified=True)
    org = Organization.objects.create(name="Acme")
    Membership.objects.create(organization=org, user=ada, role=Role.OWNER)
    workspace = Workspace.objects.create(organization=org, name="Marketing")
    actions.create_contact(workspace, "bo@example.org", attributes={"country": "NO"})
    suppressions.add_suppression(None, "everyone@example.net", "complaint")

    page = new_page(words["locale"])
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", ada.email)
    page.fill("#id_password", PASSWORD)
    page.get_by_test_id("login-submit").click()

    # A list, from the side menu and the workspace's tabs.
    page.get_by_test_id(f"nav-contacts-{workspace.pk}").click()
    expect(page.locator("h1")).to_have_text(words["contacts"])
    page.get_by_test_id("ws-tabs").get_by_role("link", name=words["lists"]).click()
    page.fill("#id_name", "Newsletter")
    page.get_by_test_id("create-list").click()
    expect(page.locator("h1")).to_have_text("Newsletter")
    page.screenshot(path=f"{SCREENSHOTS}/openesp-list-{lang}.png", full_page=True)

    # A contact with two attributes (the second row added by "Another attribute") on that list.
    page.get_by_test_id("ws-tabs").get_by_role("link", name=words["contacts"]).click()
    page.get_by_test_id("add-contact").click()
    page.fill("#id_email", "ann@example.com")
    page.fill("#id_name", "Ann")
    page.fill("#id_language", "sv")
    page.fill("#id_time_zone", "Europe/Stockholm")
    rows = page.locator("[data-attr-row]")
    rows.nth(0).locator("input[name=attr_key]").fill("country")
    rows.nth(0).locator("input[name=attr_value]").fill("SE")
    rows.nth(1).locator("input[name=attr_key]").fill("plan")
    rows.nth(1).locator("input[name=attr_value]").fill("pro")
    page.locator("[data-attr-add]").click()
    expect(rows).to_have_count(3)
    rows.nth(2).locator("input[name=attr_key]").fill("age")
    rows.nth(2).locator("select[name=attr_type]").select_option("number")
    rows.nth(2).locator("input[name=attr_value]").fill("42")
    page.get_by_label("Newsletter").check()
    page.screenshot(path=f"{SCREENSHOTS}/openesp-contact-new-{lang}.png", full_page=True)
    page.get_by_test_id("save-contact").click()
    expect(page.locator("h1")).to_have_text("ann@example.com")
    expect(page.get_by_test_id("contact-status")).to_have_text(words["active"])
    ann = Contact.objects.get(email="ann@example.com")
    assert ann.attributes == {"country": "SE", "plan": "pro", "age": 42}

    # Filter the contacts by an attribute.
    page.get_by_test_id("ws-tabs").get_by_role("link", name=words["contacts"]).click()
    expect(page.get_by_test_id("contact-table").locator("tbody tr")).to_have_count(2)
    page.fill("#id_attribute", "country=SE")
    page.get_by_test_id("apply-filters").click()
    expect(page.get_by_test_id("contact-table").locator("tbody tr")).to_have_count(1)
    page.screenshot(path=f"{SCREENSHOTS}/openesp-contacts-{lang}.png", full_page=True)
    page.get_by_role("link", name="ann@example.com").click()

    # Unsubscribe, subscribe again; the consent history shows each step.
    newsletter = page.locator('[data-testid="subscriptions"] tr[data-list="Newsletter"]')
    expect(newsletter.get_by_test_id("sub-status")).to_have_text(words["subscribed"])
    newsletter.get_by_test_id("unsubscribe").click()
    expect(newsletter.get_by_test_id("sub-status")).to_have_text(words["unsubscribed"])
    newsletter.get_by_test_id("subscribe").click()
    expect(newsletter.get_by_test_id("sub-status")).to_have_text(words["subscribed"])
    expect(page.get_by_role("heading", name=words["ledger"])).to_be_visible()
    ledger = page.get_by_test_id("ledger").locator("tbody tr")
    expect(ledger).to_have_count(3)
    expect(ledger.nth(1)).to_have_attribute("data-action", "unsubscribe")
    expect(page.get_by_test_id("gdpr-export")).to_have_text(words["gdpr"])
    page.screenshot(path=f"{SCREENSHOTS}/openesp-contact-{lang}.png", full_page=True)

    # Suppress the address, read its history, lift it.
    page.get_by_test_id("ws-tabs").get_by_role("link", name=words["suppressions"]).click()
    expect(page.locator('tr[data-email="everyone@example.net"]')).to_contain_text(words["operator"])
    page.fill("#id_email", "ann@example.com")
    page.get_by_test_id("add-suppression").click()
    row = page.locator('tr[data-email="ann@example.com"]')
    expect(row).to_have_count(1)
    page.screenshot(path=f"{SCREENSHOTS}/openesp-suppressions-{lang}.png", full_page=True)
    row.get_by_test_id("remove-suppression").click()
    page.get_by_test_id("confirm-remove").click()
    expect(page.locator('tr[data-email="ann@example.com"]')).to_have_count(0)
    page.goto(f"{live_server.url}/workspaces/{workspace.pk}/suppressions/?history=ann@example.com")
    history = page.get_by_test_id("suppression-history").locator("tbody tr")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text(words["removed"])
    expect(history.nth(1)).to_contain_text(words["added"])
    assert not Suppression.objects.filter(email="ann@example.com").exists()
    assert SuppressionAudit.objects.filter(email="ann@example.com", actor=ada).count() == 2

    # Erase the contact, after the confirmation step.
    page.goto(f"{live_server.url}/workspaces/{workspace.pk}/contacts/{ann.pk}/")
    page.get_by_test_id("erase-contact").click()
    expect(page.locator("h1")).to_have_text(words["erase"])
    page.get_by_test_id("confirm-erase").click()
    expect(page.locator("h1")).to_have_text(words["contacts"])
    expect(page.locator('tr[data-contact="ann@example.com"]')).to_have_count(0)
    assert not Contact.objects.filter(pk=ann.pk).exists()
    assert ConsentRecord.objects.filter(workspace=workspace, action="erase").count() == 1
