"""render_message: what delivery sends for a campaign message, rendered per recipient at send time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from openesp.audience.gdpr import erase_contact
from openesp.audience.models import Contact
from openesp.campaigns.campaigns import cancel_campaign, pause_campaign, schedule_campaign
from openesp.campaigns.models import Recipient
from openesp.campaigns.render import Held, NotSendable, Prepared, prepare_messages, render_message, render_messages
from openesp.campaigns.scheduling import start_campaign
from openesp.campaigns.templates import TemplateError, save_template
from openesp.campaigns.tokens import InvalidToken, recipient_id_for
from openesp.messaging.models import Message

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def started(campaign):
    schedule_campaign(campaign, now=NOW)
    start_campaign(campaign.pk, NOW)
    campaign.refresh_from_db()
    return campaign


def _message_to(campaign, email: str) -> Message:
    return Message.objects.get(campaign_link__campaign=campaign, to_email=email)


def test_it_renders_per_recipient_with_links_and_unsubscribe_headers(started, settings):
    message = _message_to(started, "m1@example.com")
    rendered = render_message(message)
    assert rendered.subject == "Hello M 1"
    token = rendered.html.split("/r/")[1].split("/")[0]
    recipient = Recipient.objects.get(pk=recipient_id_for(token))
    assert recipient.email == "m1@example.com"
    assert rendered.html.startswith("<p>Dear M 1, <a href='" + settings.OPENESP_BASE_URL + "/r/")
    assert "answer (" + settings.OPENESP_BASE_URL + "/r/" in rendered.text
    headers = dict(rendered.headers)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["List-Unsubscribe"].startswith("<" + settings.OPENESP_BASE_URL)


def test_it_renders_the_pinned_version_not_a_later_save(started, version):
    save_template(version.template, subject="Changed", text="changed")
    assert render_message(_message_to(started, "m1@example.com")).subject == "Hello M 1"


def test_it_gives_each_recipient_its_own_unguessable_token(started):
    tokens = set()
    for message in Message.objects.filter(campaign_link__campaign=started):
        tokens.add(render_message(message).html.split("/r/")[1].split("/")[0])
    assert len(tokens) == 5
    token = tokens.pop()
    with pytest.raises(InvalidToken):
        recipient_id_for(token[:-1] + ("0" if token[-1] != "0" else "1"))


def test_it_fails_one_message_whose_contact_lacks_an_attribute(workspace, alice, members, campaign):
    Contact.objects.filter(email="m2@example.com").update(attributes={"plan": "gold"})
    version = save_template(campaign.template_version.template, subject="s", text="{{ contact.attributes.plan }}")
    campaign.template_version = version
    campaign.save()
    schedule_campaign(campaign, now=NOW)
    start_campaign(campaign.pk, NOW)
    results = render_messages(list(Message.objects.filter(campaign_link__campaign=campaign)))
    by_address = {Message.objects.get(pk=pk).to_email: result for pk, result in results.items()}
    assert by_address["m2@example.com"].text == "gold"
    assert isinstance(by_address["m1@example.com"], TemplateError)
    assert str(by_address["m1@example.com"]) == "text: line 1: 'dict object' has no attribute 'plan'"


def test_it_does_not_send_to_an_erased_contact(started):
    message = _message_to(started, "m0@example.com")
    erase_contact(Contact.objects.get(email="m0@example.com"), None)
    with pytest.raises(NotSendable, match="erased"):
        render_message(message)


def test_it_holds_a_paused_campaigns_message_and_drops_a_cancelled_ones(started):
    message = _message_to(started, "m0@example.com")
    pause_campaign(started, now=NOW)
    with pytest.raises(Held):
        render_message(message)
    cancel_campaign(started, now=NOW)
    with pytest.raises(NotSendable, match="cancelled"):
        render_message(message)


def test_the_unsubscribe_header_names_the_address_the_message_goes_to(started):
    from openesp.audience.unsubscribe import unsubscribe_url

    message = _message_to(started, "m1@example.com")
    (rendered,) = render_messages([message]).values()
    assert dict(rendered.headers)["List-Unsubscribe"] == f"<{unsubscribe_url(message.workspace_id, 'm1@example.com')}>"
    # The contact's address changed after the invitation was queued: the template's link is
    # made for the new one, the header still for the address this message is sent to.
    Contact.objects.filter(email="m1@example.com").update(email="new-m1@example.com", email_key="new-m1@example.com")
    (prepared,) = prepare_messages([message]).values()
    assert isinstance(prepared, Prepared)
    assert dict(prepared.headers)["List-Unsubscribe"] == f"<{unsubscribe_url(message.workspace_id, 'm1@example.com')}>"
    assert prepared.context["unsubscribe_url"] == unsubscribe_url(message.workspace_id, "new-m1@example.com")
