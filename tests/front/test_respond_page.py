"""The hosted response page /r/<token>/: a GET records nothing (link scanners), the button's POST
records the response once, then thanks or goes on to the campaign's response_url with the token;
the page speaks the recipient's language; forged and unknown tokens are the 404 page."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from openesp.audience import actions
from openesp.campaigns.campaigns import create_campaign, schedule_campaign
from openesp.campaigns.models import Recipient, Response
from openesp.campaigns.scheduling import run_due
from openesp.campaigns.templates import create_template
from openesp.campaigns.tokens import make_token, response_url
from openesp.front.views.respond import with_token
from openesp.messaging.models import Category, Event, EventType, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def invite(workspace, alice):
    def make(response_url: str = "", language: str = "", receipt: bool = False) -> Recipient:
        news = actions.create_list(workspace, f"News {Recipient.objects.count()}")
        actions.create_contact(workspace, f"r{Recipient.objects.count()}@example.com", language=language, lists=[news])
        version = create_template(workspace, name=f"T{news.pk}", subject="Hi", html="<p>{{ response_url }}</p>")
        campaign = create_campaign(
            workspace, alice, name="Spring", template_version=version, from_email=alice.email, lists=[news],
            response_url=response_url, receipt_version=version if receipt else None,
        )  # fmt: skip
        schedule_campaign(campaign)
        run_due()
        return Recipient.objects.get(campaign=campaign)

    return make


def _path(recipient: Recipient) -> str:
    return urlsplit(response_url(recipient.pk)).path


def test_a_get_records_nothing_and_the_button_records_once(client: Client, invite):
    recipient = invite(receipt=True)
    url = _path(recipient)
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Acme has invited you" in html and 'data-testid="respond-button"' in html
    # The response form needs no session (the page's language switch is another form).
    button = html.index('data-testid="respond-button"')
    form = html[html.rindex("<form", 0, button) : button]
    assert 'method="post"' in form and "csrfmiddlewaretoken" not in form
    assert page["Referrer-Policy"] == "no-referrer" and page["Cache-Control"] == "no-store"
    client.head(url)
    assert not Response.objects.exists()

    done = client.post(url)  # no CSRF token, no cookie: as a recipient's browser posts it
    assert done.status_code == 200 and 'data-created="true"' in done.content.decode()
    response = Response.objects.get()
    assert (response.recipient, response.source) == (recipient, "link")
    assert Event.objects.filter(message__campaign_link__recipient=recipient, type=EventType.RESPONDED).count() == 1
    assert Message.objects.filter(category=Category.RESPONSE_RECEIPT).count() == 1

    again = client.post(url)
    assert 'data-created="false"' in again.content.decode()
    assert Response.objects.count() == 1 and Message.objects.filter(category=Category.RESPONSE_RECEIPT).count() == 1
    assert 'data-testid="respond-already"' in client.get(url).content.decode()


def test_the_response_url_gets_the_token(client: Client, invite):
    recipient = invite(response_url="https://forms.example.com/survey?lang=sv&token=old#top")
    url = _path(recipient)
    assert "Respond and continue" in client.get(url).content.decode()
    answer = client.post(url)
    assert answer.status_code == 302
    target = urlsplit(answer["Location"])
    token = url.split("/")[2]
    assert (target.netloc, target.path, target.fragment) == ("forms.example.com", "/survey", "top")
    assert parse_qs(target.query) == {"lang": ["sv"], "token": [token]}
    assert Response.objects.get().recipient == recipient
    assert client.post(url)["Location"] == answer["Location"]  # a repeat goes on too, recording nothing new
    assert Response.objects.count() == 1


def test_with_token_keeps_what_the_url_has():
    assert with_token("https://x.example/f", "a.b") == "https://x.example/f?token=a.b"
    assert with_token("https://x.example/f?q=1&q=2&e=", "t") == "https://x.example/f?q=1&q=2&e=&token=t"


def test_the_page_speaks_the_recipients_language(client: Client, invite):
    swedish = invite(language="sv-SE")
    html = client.get(_path(swedish), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="sv"' in html and "Acme har bjudit in dig" in html and ">Svara<" in html
    assert "Tack" in client.post(_path(swedish), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    english = invite(language="en")
    assert "Acme has invited you" in client.get(_path(english), HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    nobody = invite()  # no language of its own: the browser's
    assert "Acme har bjudit in dig" in client.get(_path(nobody), HTTP_ACCEPT_LANGUAGE="sv").content.decode()


def test_forged_and_unknown_tokens_are_404(client: Client, invite):
    recipient = invite()
    real = _path(recipient).split("/")[2]
    payload, _signature = real.split(".")
    forged = [
        payload + "." + ("0" * 32),
        make_token(recipient.pk + 1000),  # signed, but no such recipient
        "junk",
        real + "x",
        re.sub(r"^[^.]+", "OTk5", real),  # another id under this signature
    ]
    for token in forged:
        assert client.get(f"/r/{token}/").status_code == 404, token
        assert client.post(f"/r/{token}/").status_code == 404, token
    assert not Response.objects.exists()
