"""The Send page of a workspace (issue 10, item 5): one message composed in the UI goes through
the path of ``POST /api/v1/messages`` (parsing, sender rules, one Message per recipient)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from openesp.accounts.models import Membership, Role
from openesp.messaging.models import Event, Message, Status

pytestmark = pytest.mark.django_db


def _form(**changes: str) -> dict[str, str]:
    data = {
        "from_email": "alice@example.org",
        "to": "dana@example.net",
        "subject": "Hello",
        "text": "Hi Dana",
        "html": "",
        "token": "token-1",
    }
    data.update(changes)
    return data


def test_the_form_proposes_the_users_own_address(as_alice, workspace):
    html = as_alice.get(reverse("ws-send", args=[workspace.pk])).content.decode()
    assert 'value="alice@example.org"' in html and 'name="sandbox"' in html and 'name="html"' in html


def test_a_message_is_queued_in_the_workspace_and_the_page_goes_to_it(as_alice, alice, workspace):
    response = as_alice.post(reverse("ws-send", args=[workspace.pk]), _form(html="<p>Hi <b>Dana</b></p>"))
    message = Message.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("ws-message", args=[workspace.pk, message.public_id])
    assert (message.workspace, message.organization, message.user) == (workspace, workspace.organization, alice)
    assert (message.to_email, message.subject, message.text_body) == ("dana@example.net", "Hello", "Hi Dana")
    assert message.html_body == "<p>Hi <b>Dana</b></p>" and message.status == Status.QUEUED
    assert Event.objects.filter(message=message, type="queued").exists()


def test_several_recipients_get_a_message_each(as_alice, workspace):
    response = as_alice.post(
        reverse("ws-send", args=[workspace.pk]), _form(to="a@example.net, b@example.net\nc@x.example")
    )
    assert response["Location"] == reverse("ws-messages", args=[workspace.pk])
    assert sorted(Message.objects.values_list("to_email", flat=True)) == [
        "a@example.net",
        "b@example.net",
        "c@x.example",
    ]


def test_the_sandbox_records_and_delivers_nothing(as_alice, workspace):
    response = as_alice.post(reverse("ws-send", args=[workspace.pk]), _form(sandbox="on"), follow=True)
    assert Message.objects.get().status == Status.SANDBOX
    assert "recorded in the sandbox" in response.content.decode()


def test_the_same_form_sent_twice_queues_once(as_alice, workspace):
    as_alice.post(reverse("ws-send", args=[workspace.pk]), _form())
    as_alice.post(reverse("ws-send", args=[workspace.pk]), _form())
    assert Message.objects.count() == 1


def test_a_sender_the_user_may_not_use_is_refused_next_to_from(as_alice, workspace):
    response = as_alice.post(reverse("ws-send", args=[workspace.pk]), _form(from_email="ceo@bank.example"))
    assert response.status_code == 400
    assert 'data-error-for="from_email"' in response.content.decode()
    assert not Message.objects.exists()


def test_bad_input_names_the_field(as_alice, workspace):
    response = as_alice.post(reverse("ws-send", args=[workspace.pk]), _form(to="not an address", text=""))
    html = response.content.decode()
    assert response.status_code == 400
    assert 'data-error-for="to"' in html and 'data-error-for="text"' in html
    assert not Message.objects.exists()


def test_a_viewer_cannot_send(client, bob, org, workspace):
    Membership.objects.filter(user=bob, organization=org).update(role=Role.VIEWER)
    client.force_login(bob)
    assert client.get(reverse("ws-send", args=[workspace.pk])).status_code == 403
    assert client.post(reverse("ws-send", args=[workspace.pk]), _form(from_email="bob@example.org")).status_code == 403
    assert not Message.objects.exists()


def test_without_a_provider_the_page_says_the_mail_waits_and_where_to_set_one_up(as_alice, org, workspace):
    response = as_alice.post(reverse("ws-send", args=[workspace.pk]), _form(), follow=True)
    html = response.content.decode()
    assert "1 message is queued — your organization has no email provider yet" in html
    assert f'href="{reverse("org-settings", args=[org.pk])}" data-testid="setup-provider"' in html
    assert "on its way" not in html


def test_with_a_provider_the_page_says_it_is_on_its_way(as_alice, workspace, operator_providers):
    html = as_alice.post(reverse("ws-send", args=[workspace.pk]), _form(), follow=True).content.decode()
    assert "1 message is on its way." in html and "is queued —" not in html
