"""A contact's status follows what delivery learns: a hard bounce makes it ``bounced``, a
complaint ``complained`` — through a real worker run against a loopback SMTP server."""

from __future__ import annotations

import pytest

from openesp.accounts.models import Workspace
from openesp.audience import actions, suppressions
from openesp.audience.feedback import complaint_received
from openesp.audience.models import ContactStatus, Suppression, SuppressionAudit
from openesp.delivery.queue import Backoff
from openesp.delivery.worker import Worker
from openesp.messaging.models import Event, EventType, Message
from openesp.messaging.submit import parse_submission, submit
from tests.servers.flaky import FlakySmtpServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def server(settings):
    server = FlakySmtpServer().start()
    settings.OPENESP_DEFAULT_PROVIDER = f"smtp://{server.host}:{server.port}?security=none"
    settings.OPENESP_SENDGRID_API_KEY = settings.OPENESP_MAILJET_API_KEY = ""
    settings.OPENESP_SMTP_TIMEOUT = 3
    yield server
    server.stop()


def _send(alice, workspace: Workspace, *to: str) -> None:
    submit(
        alice,
        parse_submission({"from": alice.email, "to": list(to), "subject": "s", "text": "t"}),
        workspace=workspace,
    )
    _run_worker()


def _run_worker() -> None:
    worker = Worker("status-test", batch_size=50, pool_size=1, backoff=Backoff(jitter=0))
    try:
        worker.run_once()
    finally:
        worker.close()


def test_a_hard_bounce_makes_the_contact_bounced(alice, org, workspace, server):
    gone = actions.create_contact(workspace, "Gone@Example.net")
    fine = actions.create_contact(workspace, "fine@example.net")
    # The same address in another workspace of the organization is not this workspace's business.
    elsewhere = actions.create_contact(Workspace.objects.create(organization=org, name="Sales"), "gone@example.net")
    server.refuse["gone@example.net"] = "550 5.1.1 No such user"

    _send(alice, workspace, "gone@example.net", "fine@example.net")

    assert dict(Message.objects.values_list("to_email", "status")) == {
        "gone@example.net": "bounced",
        "fine@example.net": "sent",
    }
    assert Suppression.objects.filter(workspace=workspace, email="gone@example.net", reason="hard_bounce").exists()
    for contact, status in [(gone, "bounced"), (fine, "active"), (elsewhere, "active")]:
        contact.refresh_from_db()
        assert contact.status == status, contact.email
    gone.refresh_from_db()
    assert gone.updated_at > gone.created_at


def test_a_refusal_for_the_content_leaves_the_contact_active(alice, workspace, server):
    contact = actions.create_contact(workspace, "picky@example.net")
    server.refuse["picky@example.net"] = "550 5.7.1 Message rejected as spam"
    _send(alice, workspace, "picky@example.net")
    assert Message.objects.get().status == "bounced"
    assert not Suppression.objects.exists()
    contact.refresh_from_db()
    assert contact.status == ContactStatus.ACTIVE


def test_a_bounce_does_not_overwrite_a_complaint(alice, workspace, server):
    contact = actions.create_contact(workspace, "angry@example.net")
    actions.update_contact(contact, {"status": ContactStatus.COMPLAINED})
    server.refuse["angry@example.net"] = "550 5.1.1 No such user"
    _send(alice, workspace, "angry@example.net")
    contact.refresh_from_db()
    assert contact.status == ContactStatus.COMPLAINED


def _complaint(workspace: Workspace | None, to: str) -> Event:
    message = Message.objects.create(
        organization=workspace.organization if workspace else None, workspace=workspace,
        from_email="news@acme.example", to_email=to, subject="News",
    )  # fmt: skip
    return Event.objects.create(message=message, type=EventType.COMPLAINED)


def test_a_complaint_suppresses_and_marks_the_contact(workspace):
    contact = actions.create_contact(workspace, "spam-button@example.net")
    actions.update_contact(contact, {"status": ContactStatus.BOUNCED})
    event = _complaint(workspace, "Spam-Button@example.net")
    suppression = complaint_received(event)
    assert suppression is not None
    assert (suppression.reason, suppression.source_event) == ("complaint", event)
    contact.refresh_from_db()
    assert contact.status == ContactStatus.COMPLAINED
    audit = SuppressionAudit.objects.get()
    assert (audit.action, audit.reason, audit.source, audit.actor) == ("add", "complaint", "complaint", None)
    complaint_received(event)  # a repeated report changes nothing more
    assert SuppressionAudit.objects.count() == 1


def test_a_complaint_turns_an_unsubscription_into_a_complaint(workspace):
    suppressions.add_suppression(workspace, "was-unsubscribed@example.net", "unsubscribe")
    complaint_received(_complaint(workspace, "was-unsubscribed@example.net"))
    # An unsubscription still lets transactional mail through; a complaint stops it too.
    assert Suppression.objects.get().reason == "complaint"
    assert list(SuppressionAudit.objects.order_by("id").values_list("reason", flat=True)) == [
        "unsubscribe",
        "complaint",
    ]


def test_a_complaint_about_mail_without_a_workspace_changes_nothing(alice):
    assert complaint_received(_complaint(None, "someone@example.net")) is None
    assert not Suppression.objects.exists()


def test_a_hard_bounce_suppression_names_its_event_and_is_audited(alice, workspace, server):
    # The suppressions page shows each address's history; one the worker added must have one.
    server.refuse["gone@example.net"] = "550 5.1.1 No such user"
    _send(alice, workspace, "gone@example.net")
    suppression = Suppression.objects.get(workspace=workspace, email="gone@example.net")
    assert suppression.source_event is not None
    assert suppression.source_event.type == EventType.BOUNCED
    assert suppression.source_event.message.to_email == "gone@example.net"
    (audit,) = SuppressionAudit.objects.filter(workspace=workspace, email="gone@example.net")
    assert (audit.action, audit.reason, audit.source, audit.actor) == ("add", "hard_bounce", "delivery", None)
    assert "550" in audit.source_detail

    # A second bounce to a suppressed address (a message queued before) adds no second audit row.
    # System mail is not dropped for a suppressed address, so it is tried and bounces again.
    Message.objects.create(
        workspace=workspace, from_email=alice.email, to_email="gone@example.net", subject="s", category="system"
    )
    _run_worker()
    assert Message.objects.filter(status="bounced").count() == 2
    assert SuppressionAudit.objects.filter(email="gone@example.net").count() == 1
