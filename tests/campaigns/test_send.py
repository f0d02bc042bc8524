"""The delivery worker sends campaigns: rendered per recipient at send time, into a real SMTP sink.

The worker (``Worker.run_once``, the loop's own step) runs the scheduler itself: nothing here
calls ``run_due`` or ``start_campaign``. The sink is aiosmtpd on loopback, reached through the
operator's relay, which is the effective provider of alice in an organization without a
provider of its own.
"""

from __future__ import annotations

from collections import Counter

import dkim
import pytest
from django.urls import reverse

from openesp.audience.models import Suppression, SuppressionReason
from openesp.audience.suppressions import add_suppression
from openesp.audience.unsubscribe import unsubscribe_url
from openesp.campaigns.campaigns import HELD, cancel_campaign, pause_campaign, resume_campaign, schedule_campaign
from openesp.campaigns.models import Campaign, CampaignStatus, Recipient
from openesp.campaigns.reminders import create_reminder
from openesp.campaigns.responses import record_response
from openesp.campaigns.templates import create_template
from openesp.delivery.claim import claim_batch
from openesp.delivery.domains import add_dkim_key
from openesp.delivery.worker import Worker
from openesp.esp.models import EspConfig
from openesp.messaging.models import Category, Event, Message, Status
from openesp.messaging.senders import add_sending_domain
from tests.campaigns.sending import delivered, make_audience, make_campaign, per_address

pytestmark = pytest.mark.django_db
CONTACTS = 300


@pytest.fixture
def sink(smtp_server_no_tls, settings):
    settings.OPENESP_DEFAULT_PROVIDER = f"smtp://{smtp_server_no_tls.host}:{smtp_server_no_tls.port}?security=none"
    return smtp_server_no_tls


@pytest.fixture
def worker():
    # The scheduler on every claim (not once a second), so that each step of a test is exact.
    w = Worker("campaign-worker", batch_size=100, pool_size=4, schedule_every=0.0)
    yield w
    w.close()


def drain(worker: Worker) -> None:
    while worker.run_once():
        pass


def _status(campaign: Campaign) -> str:
    campaign.refresh_from_db()
    return campaign.status


def test_every_eligible_recipient_gets_one_invitation_rendered_for_them(alice, workspace, sink, worker):
    _record, key = add_dkim_key(add_sending_domain("example.org"), algorithm="ed25519", selector="s1")
    audience = make_audience(workspace, CONTACTS)
    campaign = make_campaign(workspace, alice, audience)
    schedule_campaign(campaign)
    worker.run_once()  # the worker's scheduler starts the campaign; this claim sends a first batch
    assert _status(campaign) == CampaignStatus.SENDING
    # Unsubscribed after the audience was frozen, before their invitation went: not sent.
    late = sorted(audience.eligible)[-3:]
    for address in late:
        add_suppression(workspace, address, SuppressionReason.UNSUBSCRIBE, source="api")
    late = [a for a in late if not Message.objects.filter(to_email=a, status=Status.SENT).exists()]
    drain(worker)

    mails = delivered(sink)
    assert per_address(mails, Category.INVITATION) == Counter(audience.eligible - set(late))
    recipients = {r.pk: r for r in Recipient.objects.filter(campaign=campaign)}
    for mail in mails:
        number = mail.to.split("@")[0][1:]
        # Each mail names its own recipient in its response link, and its own contact in the body.
        assert recipients[mail.recipient_id()].email == mail.to
        assert mail.mail["Subject"] == f"Hello Person {number}"
        assert f'<p class="greeting" style="color: #123456;">Dear Person {number} (plan-{number}),</p>' in mail.html
        assert "Answer here (" in mail.text  # the text part derived from the HTML, with the link
        assert mail.mail["List-Unsubscribe"] == f"<{unsubscribe_url(workspace.pk, mail.to)}>"
        assert mail.mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert mail.mail["From"] == "Acme <alice@example.org>"
    raw = sink.messages[0].data
    assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: key.dns_record().encode())

    sent = Message.objects.filter(campaign_link__campaign=campaign, status=Status.SENT)
    assert sent.count() == len(audience.eligible) - len(late)
    # No body is stored, before or after sending; the rendered subject is kept for the log.
    assert not sent.filter(body__isnull=False).exists()
    one = sent.get(to_email="c0@example.net")
    assert (one.subject, one.provider_kind, one.category) == ("Hello Person 0", "relay", Category.INVITATION)
    for address in late:
        dropped = Message.objects.get(to_email=address)
        assert dropped.status == Status.DROPPED
        assert Event.objects.get(message=dropped, type="dropped").detail == "suppressed (unsubscribe)"
    assert _status(campaign) == CampaignStatus.SENT  # all invitations done: the scheduler marked it


def test_a_template_error_for_one_contact_fails_only_that_message(alice, workspace, sink, worker):
    audience = make_audience(workspace, 40, plan_missing="c5@example.net")
    campaign = make_campaign(workspace, alice, audience)
    schedule_campaign(campaign)
    drain(worker)

    failed = Message.objects.get(to_email="c5@example.net")
    assert failed.status == Status.BOUNCED
    event = Event.objects.get(message=failed, type="bounced")
    assert event.detail == "html: line 2: 'dict object' has no attribute 'plan'"
    assert (event.data["step"], event.data["bounce"]) == ("render", "hard")
    assert not Suppression.objects.filter(email="c5@example.net").exists()  # not the address's fault
    assert per_address(delivered(sink), Category.INVITATION) == Counter(audience.eligible - {"c5@example.net"})
    assert _status(campaign) == CampaignStatus.SENT


def test_pause_holds_and_resume_continues(alice, workspace, sink):
    worker = Worker("w", batch_size=50, pool_size=4, schedule_every=0.0)
    audience = make_audience(workspace, 200)
    campaign = make_campaign(workspace, alice, audience)
    schedule_campaign(campaign)
    assert worker.run_once() == 50
    pause_campaign(campaign)
    assert worker.run_once() == 0  # nothing of a paused campaign is claimed
    assert len(sink.messages) == 50
    assert _status(campaign) == CampaignStatus.PAUSED
    resume_campaign(campaign)
    drain(worker)
    worker.close()
    assert per_address(delivered(sink), Category.INVITATION) == Counter(audience.eligible)
    assert _status(campaign) == CampaignStatus.SENT


@pytest.mark.parametrize("resumed_before_record", [False, True])
def test_a_batch_claimed_before_a_pause_is_held_until_resumed(alice, workspace, sink, worker, resumed_before_record):
    audience = make_audience(workspace, 60)
    campaign = make_campaign(workspace, alice, audience)
    schedule_campaign(campaign)
    worker._run_due(force=True)  # starts it
    claimed = claim_batch("campaign-worker", limit=20, lease=worker.lease)
    pause_campaign(campaign)  # the worker holds 20 messages already
    batch = worker._plan(claimed)
    assert len(batch.decided) == 20 and not batch.jobs  # none is sent
    if resumed_before_record:  # resumed between planning and recording: the hold must not stick
        resume_campaign(campaign)
    worker._record(worker._send(batch))
    held = Message.objects.filter(pk__in=[m.pk for m in claimed])
    assert set(held.values_list("status", flat=True)) == {Status.QUEUED}
    assert set(held.values_list("attempts", flat=True)) == {0}  # being held is not an attempt
    if resumed_before_record:
        assert not held.filter(not_before=HELD).exists()
    else:
        assert set(held.values_list("not_before", flat=True)) == {HELD}
        drain(worker)
        assert sink.messages == []
        resume_campaign(campaign)
    drain(worker)
    assert per_address(delivered(sink), Category.INVITATION) == Counter(audience.eligible)


def test_cancel_leaves_nothing_queued(alice, workspace, sink):
    worker = Worker("w", batch_size=30, pool_size=4, schedule_every=0.0)
    audience = make_audience(workspace, 120)
    campaign = make_campaign(workspace, alice, audience)
    schedule_campaign(campaign)
    assert worker.run_once() == 30
    claimed = claim_batch("w", limit=10, lease=worker.lease)  # in a worker's hands when it is cancelled
    cancel_campaign(campaign)
    messages = Message.objects.filter(campaign_link__campaign=campaign)
    assert not messages.filter(status__in=[Status.QUEUED, Status.DEFERRED]).exists()
    worker._record(worker._send(worker._plan(claimed)))
    drain(worker)
    worker.close()
    assert len(sink.messages) == 30
    counts = Counter(messages.values_list("status", flat=True))
    assert counts == {Status.SENT: 30, Status.DROPPED: 10, Status.CANCELLED: len(audience.eligible) - 40}
    dropped = messages.filter(status=Status.DROPPED).first()
    assert Event.objects.get(message=dropped, type="dropped").detail == "the campaign was cancelled"
    assert _status(campaign) == CampaignStatus.CANCELLED


def test_a_reminder_reaches_who_has_not_responded_and_receipts_reach_responders(alice, workspace, sink, worker):
    receipt = create_template(workspace, name="Receipt", subject="Thank you, {{ contact.name }}", text="Got it.")
    audience = make_audience(workspace, 100)
    campaign = make_campaign(workspace, alice, audience, receipt=receipt)
    schedule_campaign(campaign)
    drain(worker)
    recipients = list(Recipient.objects.filter(campaign=campaign).order_by("pk"))
    responders = {r.email for r in recipients[::3]}  # about a third respond
    for recipient in recipients[::3]:
        record_response(recipient, source="api")
    record_response(recipients[0], source="link")  # a repeat: no second receipt
    gone = {r.email for r in recipients[1:8:3]}  # opted out after the invitation, before the reminder
    for address in gone:
        add_suppression(workspace, address, SuppressionReason.UNSUBSCRIBE, source="api")
    nudge = create_template(workspace, name="Nudge", subject="Still time, {{ contact.name }}", html=INVITE_AGAIN)
    reminder = create_reminder(campaign, alice, version=nudge, after_days=0)  # scheduled: due already
    drain(worker)

    mails = delivered(sink)
    assert per_address(mails, Category.INVITATION) == Counter(audience.eligible)
    assert per_address(mails, Category.RESPONSE_RECEIPT) == Counter(responders)
    assert per_address(mails, Category.REMINDER_SCHEDULED) == Counter(audience.eligible - responders - gone)
    for mail in mails:
        if mail.category == Category.REMINDER_SCHEDULED:
            assert Recipient.objects.get(pk=mail.recipient_id()).email == mail.to
            assert mail.mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    reminder.refresh_from_db()
    assert reminder.sent == len(audience.eligible - responders - gone)
    drain(worker)  # nothing more: the scheduler does not send a reminder twice
    assert len(sink.messages) == len(mails)


INVITE_AGAIN = "<p>{{ contact.name }}, <a href='{{ response_url }}'>answer</a></p>"


def test_the_message_pages_say_a_campaign_message_is_rendered_when_sent(alice, workspace, sink, worker, client):
    audience = make_audience(workspace, 3)
    campaign = make_campaign(workspace, alice, audience)
    schedule_campaign(campaign)
    worker._run_due(force=True)  # started: its messages are queued, without a subject or body yet
    message = Message.objects.get(to_email="c0@example.net")
    client.force_login(alice)
    page = reverse("ws-message", args=[workspace.pk, message.public_id])
    html = client.get(page).content.decode()
    assert "(rendered when sent)" in html
    assert "Rendered for this recipient when it is sent, from the template “Invitation of Spring”, version 1" in html
    html = client.get(page, HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert "(skapas när det skickas)" in html and "från mallen ”Invitation of Spring”, version 1" in html
    assert "(rendered when sent)" in client.get(reverse("ws-messages", args=[workspace.pk])).content.decode()
    drain(worker)
    html = client.get(page).content.decode()
    assert "Hello Person 0" in html  # the subject it was sent with, kept for the log
    assert "(rendered when sent)" not in client.get(reverse("ws-messages", args=[workspace.pk])).content.decode()


def test_through_an_api_provider_each_recipient_gets_its_rendered_content(alice, org, workspace, sendgrid_server):
    EspConfig.objects.create(organization=org, kind="sendgrid")  # the organization's provider
    worker = Worker("w", batch_size=100, pool_size=2, schedule_every=0.0)
    audience = make_audience(workspace, 12)
    campaign = make_campaign(workspace, alice, audience)
    schedule_campaign(campaign)
    drain(worker)
    worker.close()
    bodies = [r.json() for r in sendgrid_server.requests if r.path.endswith("/mail/send")]
    assert sorted(b["personalizations"][0]["to"][0]["email"] for b in bodies) == sorted(audience.eligible)
    for body in bodies:
        to = body["personalizations"][0]["to"][0]["email"]
        number = to.split("@")[0][1:]
        assert body["subject"] == f"Hello Person {number}"
        text, html = (part["value"] for part in body["content"])
        assert f"Dear Person {number} (plan-{number})," in html and "Answer here (" in text
        assert body["headers"]["List-Unsubscribe"] == f"<{unsubscribe_url(workspace.pk, to)}>"
        assert body["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    sent = Message.objects.filter(campaign_link__campaign=campaign)
    assert set(sent.values_list("status", "provider_kind")) == {(Status.SENT, "sendgrid")}
    assert _status(campaign) == CampaignStatus.SENT
