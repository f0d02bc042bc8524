"""Open and click tracking end to end: a message sent through the relay carries rewritten links
and the pixel; following them records human or machine events; forged tokens change nothing."""

from __future__ import annotations

import email
import re
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from openesp.messaging.models import Category, Event, Message
from openesp.tracking.choice import choice_for, set_defaults
from openesp.tracking.links import click_url, open_url
from tests.api.conftest import api_for

pytestmark = pytest.mark.django_db
HUMAN = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"


def _send(user: Any, workspace: Any, worker: Any, relay: Any, html: str, **extra: Any) -> tuple[Message, str]:
    body = {"from": "alice@example.org", "to": ["rcpt@example.net"], "subject": "Hi", "html": html, **extra}
    response = api_for(user).post("/api/v1/messages", {**body, "workspace": workspace.pk})
    assert response.status_code == 202, response.content
    assert worker.run_once() == 1
    raw = email.message_from_bytes(relay.messages[-1].data)
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in raw.walk() if not p.is_multipart()}
    return Message.objects.get(public_id=response.json()["ids"][0]), parts["text/html"]


def _sent_a_while_ago(message: Message) -> None:
    Message.objects.filter(pk=message.pk).update(sent_at=timezone.now() - timedelta(minutes=5))


def test_it_tracks_opens_and_clicks_when_the_message_asks(alice, workspace, worker, relay):
    unsubscribe = f"{settings.OPENESP_BASE_URL}/u/sometoken/"
    html = (
        '<html><body><p><a href="https://shop.example/offer?a=1&amp;b=2">Offer</a> '
        f'<a href="{unsubscribe}">Unsubscribe</a> <a href="mailto:x@example.org">Mail</a></p></body></html>'
    )
    message, sent = _send(alice, workspace, worker, relay, html, tracking={"opens": True, "clicks": True})
    assert message.tracking == {"opens": True, "clicks": True}
    assert "https://shop.example/offer" not in sent  # rewritten …
    assert f'href="{unsubscribe}"' in sent and 'href="mailto:x@example.org"' in sent  # … these never
    assert "/t/o/" in sent
    links = re.findall(r'href="([^"]*/t/c/[^"]+)"', sent)
    assert len(links) == 2  # the offer and the hidden trap
    _sent_a_while_ago(message)
    client = Client()
    offer = links[1]  # the trap comes first, right after <body>
    response = client.get(offer.removeprefix(settings.OPENESP_TRACKING_BASE_URL), HTTP_USER_AGENT=HUMAN)
    assert response.status_code == 302 and response["Location"] == "https://shop.example/offer?a=1&b=2"
    pixel = re.search(r'src="([^"]*/t/o/[^"]+)"', sent)
    assert pixel is not None
    path = pixel.group(1).removeprefix(settings.OPENESP_TRACKING_BASE_URL)
    apple = client.get(path, HTTP_USER_AGENT="Mozilla/5.0")
    assert apple.status_code == 200 and apple["Content-Type"] == "image/gif"
    client.get(path, HTTP_USER_AGENT=HUMAN)
    events = list(Event.objects.filter(message=message, type__in=["opened", "clicked"]).order_by("id"))
    assert [(e.type, e.data["machine"], e.data["first"], e.data["first_human"]) for e in events] == [
        ("clicked", False, True, True),
        ("opened", True, True, False),
        ("opened", False, False, True),
    ]
    assert events[0].data["url"] == "https://shop.example/offer?a=1&b=2"
    assert events[1].data["reason"] == "Apple Mail Privacy Protection"


def test_transactional_mail_is_not_tracked_by_default(alice, workspace, worker, relay):
    _message, sent = _send(alice, workspace, worker, relay, '<p><a href="https://shop.example/">x</a></p>')
    assert 'href="https://shop.example/"' in sent and "/t/" not in sent


def test_a_workspace_may_track_its_transactional_mail(alice, workspace, worker, relay):
    set_defaults(workspace.pk, transactional_opens=True, transactional_clicks=False)
    _message, sent = _send(alice, workspace, worker, relay, '<p><a href="https://shop.example/">x</a></p>')
    assert 'href="https://shop.example/"' in sent and "/t/o/" in sent


def test_campaign_mail_is_tracked_by_default_unless_the_campaign_says_otherwise(workspace):
    message = Message(workspace=workspace, category=Category.INVITATION)
    assert choice_for(message).opens and choice_for(message).clicks
    assert not choice_for(message, {"clicks": False}).clicks
    message.tracking = {"opens": False}
    assert not choice_for(message, {"opens": True}).opens
    assert not choice_for(Message(workspace=None, category=Category.INVITATION)).any


@pytest.mark.parametrize(
    ("agent", "reason"),
    [
        ("", "no user agent"),
        ("Mozilla/5.0 (compatible; Barracuda Sentinel)", "scanner or prefetch"),
        ("python-requests/2.32", "scanner or prefetch"),
    ],
)
def test_scanners_count_as_machines(alice, workspace, agent, reason):
    message = Message.objects.create(workspace=workspace, from_email="a@example.org", to_email="r@example.net")
    _sent_a_while_ago(message)
    Client().get(click_url(message.pk, 0, "https://shop.example/").removeprefix(settings.OPENESP_TRACKING_BASE_URL),
                 HTTP_USER_AGENT=agent)  # fmt: skip
    (event,) = Event.objects.filter(message=message)
    assert event.data["machine"] is True and event.data["reason"] == reason


def test_a_click_within_seconds_of_sending_and_the_trap_count_as_machines(alice, workspace):
    message = Message.objects.create(
        workspace=workspace, from_email="a@example.org", to_email="r@example.net", sent_at=timezone.now()
    )
    base = settings.OPENESP_TRACKING_BASE_URL
    assert Client().get(click_url(message.pk, 0, "https://shop.example/").removeprefix(base),
                        HTTP_USER_AGENT=HUMAN).status_code == 302  # fmt: skip
    assert Client().get(click_url(message.pk, -1, "").removeprefix(base), HTTP_USER_AGENT=HUMAN).status_code == 204
    reasons = [e.data["reason"] for e in Event.objects.filter(message=message).order_by("id")]
    assert reasons == ["clicked within seconds of delivery", "hidden link"]


def test_forged_and_altered_tokens_are_404_and_record_nothing(alice, workspace):
    message = Message.objects.create(workspace=workspace, from_email="a@example.org", to_email="r@example.net")
    base = settings.OPENESP_TRACKING_BASE_URL
    good = click_url(message.pk, 0, "https://shop.example/").removeprefix(base)
    payload, signature = good.removeprefix("/t/c/").split(".")
    other = click_url(message.pk, 0, "https://evil.example/").removeprefix(base).removeprefix("/t/c/").split(".")[0]
    client = Client()
    assert client.get(f"/t/c/{other}.{signature}").status_code == 404  # another target, our signature
    assert client.get(f"/t/c/{payload}.{'0' * 32}").status_code == 404
    assert client.get("/t/c/nonsense").status_code == 404
    opened = open_url(message.pk).removeprefix(base)
    assert client.get(opened.replace(".gif", "0.gif")).status_code == 404
    assert client.get(open_url(987654321).removeprefix(base)).status_code == 404  # no such message
    assert not Event.objects.filter(message=message).exists()


def test_mail_through_an_api_provider_is_tracked_too(alice, org, workspace, sendgrid_server, worker):
    from openesp.esp.models import EspConfig

    EspConfig.objects.create(organization=org, kind="sendgrid")
    body = {
        "from": "alice@example.org", "to": ["rcpt@example.net"], "subject": "Hi", "workspace": workspace.pk,
        "html": '<p><a href="https://shop.example/">x</a></p>', "tracking": {"opens": True, "clicks": True},
    }  # fmt: skip
    assert api_for(alice).post("/api/v1/messages", body).status_code == 202
    assert worker.run_once() == 1  # the HTTP provider's message is built inside the worker's event loop
    (html,) = [c["value"] for c in sendgrid_server.requests[-1].json()["content"] if c["type"] == "text/html"]
    assert "/t/o/" in html and "/t/c/" in html and 'href="https://shop.example/"' not in html
