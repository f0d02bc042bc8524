"""Campaign mail rendered in a build process (Jinja, CSS inlined, derived text, tracked links,
MIME, DKIM) is what the worker's own process renders: the same subject, parts and headers; and a
template that fails for one contact there fails that message only."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest

from openesp.campaigns.campaigns import schedule_campaign
from openesp.campaigns.render import render_message
from openesp.campaigns.scheduling import run_due
from openesp.campaigns.templates import create_template
from openesp.delivery.build import outgoing
from openesp.delivery.domains import add_dkim_key
from openesp.delivery.worker import BUILD_CHUNK, Worker
from openesp.messaging.models import Event, Message, Status
from openesp.messaging.senders import add_sending_domain
from tests.campaigns.sending import make_audience, make_campaign

pytestmark = pytest.mark.django_db

HTML = """<html><head><style>p { color: #123456 } a.b { font-weight: bold }</style></head><body>
<p>Dear {{ contact.name }} ({{ contact.attributes.plan }}),</p>
<p>Read <a class="b" href="https://example.org/news?who={{ contact.email | urlencode }}&amp;x=1">the news</a>,
<a href="mailto:help@example.org">write to us</a> or <a href="{{ response_url }}">answer here</a>.</p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> · <a href="{{ preferences_url }}">Preferences</a></p>
</body></html>"""


@pytest.fixture
def sink(smtp_server_no_tls, settings):
    settings.OPENESP_DEFAULT_PROVIDER = f"smtp://{smtp_server_no_tls.host}:{smtp_server_no_tls.port}?security=none"
    return smtp_server_no_tls


def _campaign(alice, workspace, contacts: int, **audience_options):
    audience = make_audience(workspace, contacts, **audience_options)
    campaign = make_campaign(workspace, alice, audience)
    version = create_template(workspace, name="With links", subject="News for {{ contact.name }}", html=HTML)
    campaign.template_version = version
    campaign.save(update_fields=["template_version"])
    add_dkim_key(add_sending_domain(alice.email.rpartition("@")[2]), algorithm="rsa", selector="s1")
    schedule_campaign(campaign)
    run_due()  # the invitations are queued
    return campaign


def _send_with_build_processes() -> None:
    # One batch of several chunks (BUILD_CHUNK), all handed to the build process at once.
    worker = Worker("build-render", batch_size=200, build_processes=1, schedule_every=0.0)
    try:
        while worker.run_once():
            pass
    finally:
        worker.close()


def _parsed(data: bytes) -> EmailMessage:
    mail = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


def test_a_build_process_renders_what_the_worker_would(alice, workspace, sink):
    _campaign(alice, workspace, 3 * BUILD_CHUNK + 20)
    queued = list(Message.objects.filter(status=Status.QUEUED, category="invitation"))
    assert 2 * BUILD_CHUNK < len(queued) <= 200
    # The worker's own process: rendered (derived text, CSS inlined) and tracked here.
    expected = {m.to_email: outgoing(m, rendered=render_message(m)) for m in queued}

    _send_with_build_processes()

    assert len(sink.messages) == len(expected)
    for received in sink.messages:
        mail = _parsed(received.data)
        want = expected[received.rcpt_tos[0]]
        assert str(mail["Subject"]) == want.subject
        html, text = mail.get_body(("html",)), mail.get_body(("plain",))
        assert html is not None and text is not None
        assert html.get_content().replace("\r\n", "\n") == want.html.replace("\r\n", "\n")
        assert text.get_content().replace("\r\n", "\n") == want.text.replace("\r\n", "\n")
        assert "/t/c/" in want.html and "/t/o/" in want.html and "/t/" not in want.text
        assert "color: #123456" in want.html  # the CSS was inlined
        for name, value in want.headers:
            assert str(mail[name]) == value
        assert "DKIM-Signature" in mail
    subjects = set(Message.objects.filter(category="invitation").values_list("subject", flat=True))
    assert subjects == {want.subject for want in expected.values()}  # kept for the message log


def test_a_template_failing_in_a_build_process_fails_that_message_only(alice, workspace, sink):
    _campaign(alice, workspace, 6, plan_missing="c2@example.net")

    _send_with_build_processes()

    failed = Message.objects.get(to_email="c2@example.net")
    assert failed.status == Status.BOUNCED
    event = Event.objects.get(message=failed, type="bounced")
    assert event.detail == "html: line 2: 'dict object' has no attribute 'plan'"
    assert event.data["step"] == "render"
    others = Message.objects.filter(category="invitation").exclude(pk=failed.pk)
    assert set(others.values_list("status", flat=True)) == {Status.SENT}
    assert {r.rcpt_tos[0] for r in sink.messages} == set(others.values_list("to_email", flat=True))
