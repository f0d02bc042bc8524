"""Segments in headless Chromium: write a query, watch the live count, save, see the segment's
count in the list and its contacts; in English and in Swedish."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from openesp.accounts.models import Membership, Organization, Role, User, Workspace
from openesp.audience import actions
from openesp.audience.models import Segment

PASSWORD = "correct horse battery staple"
SCREENSHOTS = "/tmp"


@pytest.mark.parametrize(
    ("locale", "texts"),
    [
        ("en-US", {"new": "New segment", "save": "Save", "matches": "contacts match", "title": "Segments"}),
        ("sv-SE", {"new": "Nytt segment", "save": "Spara", "matches": "kontakter matchar", "title": "Segment"}),
    ],
)
def test_a_segment_is_made_and_counted(live_server, new_page, transactional_db, locale, texts):
    ada = User.objects.create_user("ada@example.org", PASSWORD, name="Ada", email_verified=True)
    org = Organization.objects.create(name="Acme")
    Membership.objects.create(organization=org, user=ada, role=Role.OWNER)
    workspace = Workspace.objects.create(organization=org, name="Marketing")
    for i in range(3):
        actions.create_contact(workspace, f"se{i}@example.com", attributes={"country": "SE"})
    actions.create_contact(workspace, "no@example.com", attributes={"country": "NO"})

    page = new_page(locale)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", ada.email)
    page.fill("#id_password", PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.goto(f"{live_server.url}/workspaces/{workspace.pk}/segments/")
    expect(page.locator("h1")).to_have_text(texts["title"])
    expect(page.get_by_test_id("no-segments")).to_be_visible()
    page.get_by_test_id("new-segment").click()
    expect(page.locator("h1")).to_have_text(texts["new"])

    page.fill("#id_name", "Swedes")
    # Typing a broken query shows where it is wrong; finishing it shows the count, all without a click.
    page.locator("#id_query").fill("attributes.country =")
    expect(page.get_by_test_id("preview-error")).to_contain_text("at column 21")
    page.locator("#id_query").fill('attributes.country = "SE"')
    expect(page.get_by_test_id("preview-count")).to_have_text("3")
    expect(page.get_by_test_id("segment-preview")).to_contain_text(texts["matches"])
    page.screenshot(path=f"{SCREENSHOTS}/openesp-segment-form-{locale}.png", full_page=True)
    page.get_by_test_id("save-segment").click()

    segment = Segment.objects.get()
    expect(page).to_have_url(f"{live_server.url}/workspaces/{workspace.pk}/segments/{segment.pk}/")
    expect(page.get_by_test_id("segment-count")).to_have_text("3")
    expect(page.get_by_test_id("segment-contacts").locator("tbody tr")).to_have_count(3)
    page.get_by_test_id("ws-tabs").get_by_role("link", name=texts["title"], exact=True).click()
    expect(page.locator('tr[data-segment="Swedes"] [data-testid="segment-count"]')).to_have_text("3")
    page.screenshot(path=f"{SCREENSHOTS}/openesp-segments-{locale}.png", full_page=True)
