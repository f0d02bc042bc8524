"""The unsubscribe link in headless Chromium: opening it asks; only the button unsubscribes."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from openesp.accounts.models import Organization, Workspace
from openesp.audience import actions
from openesp.audience.models import ConsentRecord, ContactStatus, Suppression
from openesp.audience.unsubscribe import make_token

SCREENSHOTS = "/tmp"


@pytest.mark.parametrize(
    ("locale", "done"),
    [("en-US", "You are unsubscribed"), ("sv-SE", "Du är avregistrerad")],
)
def test_the_page_asks_and_the_button_unsubscribes(live_server, new_page, transactional_db, locale, done):
    workspace = Workspace.objects.create(organization=Organization.objects.create(name="Acme"), name="Marketing")
    contact = actions.create_contact(workspace, "reader@example.net")
    page = new_page(locale)
    page.goto(f"{live_server.url}/u/{make_token(workspace.pk, contact.email)}/")
    expect(page.get_by_test_id("unsubscribe-question")).to_contain_text("reader@example.net")
    page.screenshot(path=f"{SCREENSHOTS}/openesp-unsubscribe-{locale}.png", full_page=True)
    # Opening the link changed nothing.
    assert not Suppression.objects.exists()
    contact.refresh_from_db()
    assert contact.status == ContactStatus.ACTIVE

    page.get_by_test_id("unsubscribe-confirm").click()
    expect(page.get_by_test_id("unsubscribe-done")).to_contain_text(done)
    suppression = Suppression.objects.get(workspace=workspace)
    assert (suppression.email, suppression.reason) == ("reader@example.net", "unsubscribe")
    contact.refresh_from_db()
    assert contact.status == ContactStatus.UNSUBSCRIBED
    assert ConsentRecord.objects.get(contact=contact).ip == "127.0.0.1"
    # The unsubscribe page never leads to the preference page (its link can subscribe again).
    expect(page.get_by_test_id("preferences-link")).to_have_count(0)
