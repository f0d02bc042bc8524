"""The message log in headless Chromium: open it from the side menu, filter, open a message."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from openesp.accounts.models import Membership, Organization, Role, User, Workspace
from openesp.messaging.models import Event, EventType, Message, Status

PASSWORD = "correct horse battery staple"
SCREENSHOTS = "/tmp"


def test_the_message_log(live_server, new_page, transactional_db):
    ada = User.objects.create_user("ada@example.org", PASSWORD, name="Ada", email_verified=True)
    org = Organization.objects.create(name="Acme")
    Membership.objects.create(organization=org, user=ada, role=Role.OWNER)
    workspace = Workspace.objects.create(organization=org, name="Marketing")
    now = timezone.now()
    for i, status in enumerate([Status.SENT, Status.SENT, Status.DEFERRED, Status.QUEUED]):
        Message.objects.create(
            organization=org, workspace=workspace, from_email="shop@acme.example", to_email=f"r{i}@example.org",
            subject=f"Order {i}", status=status, provider_kind="relay", created_at=now - timedelta(minutes=i),
        )  # fmt: skip
    bounced = Message.objects.create(
        organization=org, workspace=workspace, from_email="shop@acme.example", to_email="gone@example.org",
        subject="Your receipt", status=Status.BOUNCED, provider_kind="sendgrid", attempts=1, last_smtp_code=550,
        last_response="550 5.1.1 User unknown", provider_reason="the server's default provider",
        created_at=now - timedelta(hours=1),
    )  # fmt: skip
    Event.objects.create(message=bounced, type=EventType.QUEUED, created_at=now - timedelta(hours=1))
    Event.objects.create(
        message=bounced, type=EventType.BOUNCED, created_at=now - timedelta(minutes=59), smtp_code=550,
        enhanced_status="5.1.1", detail="User unknown", data={"bounce": "hard", "provider": "sendgrid"},
    )  # fmt: skip

    page = new_page("en-US")
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", ada.email)
    page.fill("#id_password", PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id(f"nav-messages-{workspace.pk}").click()
    expect(page.locator("h1")).to_have_text("Message log")
    expect(page.get_by_test_id("message-table").locator("tbody tr")).to_have_count(5)
    expect(page.get_by_test_id("count-sent")).to_have_text("2")
    page.screenshot(path=f"{SCREENSHOTS}/openesp-message-log.png", full_page=True)

    page.select_option("#id_status", "bounced")
    page.get_by_test_id("apply-filters").click()
    expect(page.get_by_test_id("message-table").locator("tbody tr")).to_have_count(1)
    expect(page.locator("#id_status")).to_have_value("bounced")
    page.get_by_role("link", name="Your receipt").click()
    expect(page.get_by_test_id("message-status")).to_have_text("Bounced")
    expect(page.get_by_test_id("timeline").locator("li")).to_have_count(2)
    expect(page.get_by_test_id("smtp-code")).to_have_text("550 5.1.1")
    page.screenshot(path=f"{SCREENSHOTS}/openesp-message.png", full_page=True)
