"""Campaign mail is tracked by default (its links rewritten, the pixel added, its unsubscribe
link left alone), and a campaign that turns clicks off gets only the pixel."""

from __future__ import annotations

import pytest

from openesp.campaigns.campaigns import schedule_campaign
from openesp.campaigns.editing import update_campaign
from openesp.delivery.worker import Worker
from tests.campaigns.sending import delivered, make_audience, make_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def sink(smtp_server_no_tls, settings):
    settings.OPENESP_DEFAULT_PROVIDER = f"smtp://{smtp_server_no_tls.host}:{smtp_server_no_tls.port}?security=none"
    return smtp_server_no_tls


def _send(alice, workspace, sink, tracking=None) -> list:
    audience = make_audience(workspace, 3)
    campaign = make_campaign(workspace, alice, audience)
    if tracking is not None:
        update_campaign(campaign, alice, tracking=tracking)
    schedule_campaign(campaign)
    worker = Worker("tracking-worker", schedule_every=0.0)
    try:
        while worker.run_once():
            pass
    finally:
        worker.close()
    return delivered(sink)


def test_campaign_mail_is_tracked_by_default(alice, workspace, sink):
    mails = _send(alice, workspace, sink)
    assert mails
    for mail in mails:
        assert "/t/o/" in mail.html and "/t/c/" in mail.html
        assert "/u/" in mail.html  # the unsubscribe link stays as it is
        assert "/t/" not in mail.text  # the text part keeps the real links
        assert mail.recipient_id()  # the response link of the text part still works


def test_a_campaign_may_turn_clicks_off(alice, workspace, sink):
    for mail in _send(alice, workspace, sink, tracking={"clicks": False}):
        assert "/t/o/" in mail.html and "/t/c/" not in mail.html
