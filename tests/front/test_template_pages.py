"""The template pages: list, editor (save makes a version), live preview (JSON) and the preview
without script, versions, a test mail to oneself, delete; viewers look but do not change."""

from __future__ import annotations

import email
import email.policy
import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from openesp.accounts.models import Membership, Role, User, Workspace
from openesp.audience import actions
from openesp.campaigns.campaigns import create_campaign
from openesp.campaigns.models import Template, TemplateVersion
from openesp.campaigns.templates import create_template
from openesp.delivery.worker import Worker
from openesp.esp.models import EspConfig
from openesp.messaging.models import Category, Message
from tests.conftest import PASSWORD
from tests.front.conftest import field_error

pytestmark = pytest.mark.django_db

HTML = "<style>p { color: red; }</style>\n<p>Hello {{ contact.name }}</p>\n<a href='{{ response_url }}'>Go</a>"


def _form(**changes: str) -> dict[str, str]:
    data = {"name": "Invite", "subject": "Hi {{ contact.name }}", "html": HTML, "text": "", "contact": ""}
    data.update(changes)
    return data


def test_a_template_is_made_then_changed_into_a_new_version(as_alice: Client, workspace: Workspace, alice: User):
    listing = as_alice.get(reverse("ws-templates", args=[workspace.pk])).content.decode()
    assert 'data-testid="no-templates"' in listing and reverse("ws-template-new", args=[workspace.pk]) in listing
    new = as_alice.get(reverse("ws-template-new", args=[workspace.pk])).content.decode()
    assert "campaigns.js" in new and 'sandbox=""' in new  # the preview frame runs no script
    saved = as_alice.post(reverse("ws-template-new", args=[workspace.pk]), _form())
    template = Template.objects.get()
    assert saved["Location"] == reverse("ws-template", args=[workspace.pk, template.pk])
    assert template.latest_version().number == 1 and template.created_by == alice

    page = as_alice.get(saved["Location"]).content.decode()
    assert "Saved as version 1." in page and 'value="Hi {{ contact.name }}"' in page
    changed = as_alice.post(saved["Location"], _form(name="Invitation", subject="Welcome"))
    assert changed.status_code == 302
    template.refresh_from_db()
    assert template.name == "Invitation"
    assert list(template.versions.order_by("number").values_list("subject", flat=True)) == [
        "Hi {{ contact.name }}",
        "Welcome",
    ]
    versions = as_alice.get(reverse("ws-template-versions", args=[workspace.pk, template.pk])).content.decode()
    assert '<tr data-version="2">' in versions and '<tr data-version="1">' in versions
    old = as_alice.get(saved["Location"] + "?version=1").content.decode()
    assert 'value="Hi {{ contact.name }}"' in old
    listing = as_alice.get(reverse("ws-templates", args=[workspace.pk])).content.decode()
    assert '<tr data-template="Invitation">' in listing and ">v2<" in listing


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"html": "<p>{{ contact.name </p>"}, "html", "line 1: "),
        ({"text": "a\nb\n{{ contact.nobody }}"}, "text", "line 3: 'contact.nobody' is not a variable templates know"),
        ({"subject": ""}, "subject", "This field is required."),
        ({"name": "Invite", "subject": "{% for %}"}, "subject", "line 1"),
    ],
)
def test_a_broken_template_is_not_saved_and_says_where(as_alice: Client, workspace, changes, field, reason):
    response = as_alice.post(reverse("ws-template-new", args=[workspace.pk]), _form(**changes))
    assert response.status_code == 400
    html = response.content.decode()
    assert field_error(html, field) and reason.replace("'", "&#x27;") in html
    assert not Template.objects.exists()


def test_the_live_preview_renders_as_a_campaign_would(as_alice: Client, workspace: Workspace):
    actions.create_contact(workspace, "sven@example.se", name="Sven", attributes={"plan": "gold"})
    url = reverse("ws-template-preview", args=[workspace.pk])
    sample = json.loads(as_alice.post(url, _form()).content)
    assert sample["ok"] and sample["subject"] == "Hi Someone"
    assert 'style="color: red;"' in sample["html"] and "https://example.com/r/sample-token/" in sample["html"]
    assert "Hello Someone" in sample["text"]  # derived from the HTML
    chosen = json.loads(
        as_alice.post(url, _form(contact="SVEN@example.se", text="{{ contact.attributes.plan }}")).content
    )
    assert (chosen["subject"], chosen["text"]) == ("Hi Sven", "gold")
    assert not Template.objects.exists() and not TemplateVersion.objects.exists()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"html": "<p>\n{% if %}</p>"}, {"ok": False, "field": "html", "line": 2}),
        ({"subject": "{{ ''.__class__ }}"}, {"ok": False, "field": "subject"}),
        ({"text": "{{ contact.attributes.plan }}"}, {"ok": False, "field": "text", "line": 1}),
        ({"contact": "nobody@example.com"}, {"ok": False, "field": "contact", "line": None}),
        ({"html": "", "text": ""}, {"ok": False, "field": "html"}),
    ],
)
def test_preview_errors_name_the_part_and_line(as_alice: Client, workspace: Workspace, changes, expected):
    answer = json.loads(as_alice.post(reverse("ws-template-preview", args=[workspace.pk]), _form(**changes)).content)
    assert {key: answer[key] for key in expected} == expected
    assert answer["reason"]


def test_preview_without_script_and_in_swedish(as_alice: Client, workspace: Workspace, alice: User):
    response = as_alice.post(reverse("ws-template-new", args=[workspace.pk]), {**_form(), "action": "preview"})
    html = response.content.decode()
    assert 'data-testid="template-preview-subject">Hi Someone<' in html
    assert 'srcdoc="&lt;style&gt;' not in html and "Hello Someone" in html  # css inlined, escaped into srcdoc
    assert not Template.objects.exists()
    broken = as_alice.post(
        reverse("ws-template-new", args=[workspace.pk]), {**_form(html="<p>\n{% if %}"), "action": "preview"}
    )
    assert re.search(r'data-testid="template-preview-error"[^>]*>HTML, line 2: ', broken.content.decode())
    alice.language = "sv"
    alice.save()
    page = as_alice.get(reverse("ws-template-new", args=[workspace.pk])).content.decode()
    for text in ["Ny mall", "Förhandsgranska", "Ämne", "Skicka ett test till alice@example.org"]:
        assert text in page, text


def test_a_test_mail_goes_to_oneself_through_the_effective_provider(as_alice: Client, workspace, alice, org):
    version = create_template(workspace, name="Invite", subject="Hi", html="<p>x</p>", actor=alice)
    url = reverse("ws-template", args=[workspace.pk, version.template_id])
    response = as_alice.post(url, {**_form(), "action": "test", "from_email": "alice@example.org"})
    assert response.status_code == 200 and "A test is on its way to alice@example.org." in response.content.decode()
    message = Message.objects.get()
    assert (message.to_email, message.subject, message.category) == (
        "alice@example.org",
        "[Test] Hi Someone",
        Category.TRANSACTIONAL,
    )
    assert (message.user, message.organization, message.workspace) == (alice, org, workspace)
    assert "Hello Someone" in message.html_body and message.status == "queued"
    assert TemplateVersion.objects.count() == 1  # a test saves nothing

    refused = as_alice.post(url, {**_form(), "action": "test", "from_email": "ceo@bank.example"})
    assert field_error(refused.content.decode(), "from_email")
    assert Message.objects.count() == 1


def test_delete_refuses_a_template_a_campaign_uses(as_alice: Client, workspace, alice):
    used = create_template(workspace, name="Used", subject="Hi", html="<p>x</p>", actor=alice)
    spare = create_template(workspace, name="Spare", subject="Hi", html="<p>x</p>", actor=alice)
    news = actions.create_list(workspace, "News")
    create_campaign(workspace, alice, name="C", template_version=used, from_email=alice.email, lists=[news])
    refused = as_alice.post(reverse("ws-template-delete", args=[workspace.pk, used.template_id]), follow=True)
    assert "The template is used by a campaign and cannot be deleted." in refused.content.decode()
    done = as_alice.post(reverse("ws-template-delete", args=[workspace.pk, spare.template_id]))
    assert done["Location"] == reverse("ws-templates", args=[workspace.pk])
    assert list(Template.objects.values_list("name", flat=True)) == ["Used"]


def test_viewers_look_preview_and_change_nothing(workspace, org, alice):
    vera = User.objects.create_user("vera@example.org", PASSWORD, email_verified=True)
    Membership.objects.create(organization=org, user=vera, role=Role.VIEWER).workspaces.add(workspace)
    version = create_template(workspace, name="Invite", subject="Hi", html="<p>x</p>", actor=alice)
    client = Client()
    client.force_login(vera)
    edit = reverse("ws-template", args=[workspace.pk, version.template_id])
    page = client.get(edit).content.decode()
    assert 'data-testid="read-only"' in page and 'data-testid="save-template"' not in page
    assert 'data-testid="new-template"' not in client.get(reverse("ws-templates", args=[workspace.pk])).content.decode()
    preview = client.post(reverse("ws-template-preview", args=[workspace.pk]), _form())
    assert json.loads(preview.content)["ok"]
    for url, data in [
        (edit, _form()),
        (edit, {**_form(), "action": "test"}),
        (reverse("ws-template-new", args=[workspace.pk]), {}),
        (reverse("ws-template-delete", args=[workspace.pk, version.template_id]), {}),
    ]:
        response = client.post(url, data)
        assert response.status_code == 403, url
        assert "but not change them" in response.content.decode()
    assert TemplateVersion.objects.count() == 1 and not Message.objects.exists()


def test_a_template_of_another_workspace_is_missing_here(as_alice: Client, workspace, org, alice):
    other = Workspace.objects.create(organization=org, name="Sales")
    version = create_template(other, name="Theirs", subject="Hi", html="<p>x</p>", actor=alice)
    assert as_alice.get(reverse("ws-template", args=[workspace.pk, version.template_id])).status_code == 404
    assert as_alice.get(reverse("ws-template", args=[other.pk, version.template_id])).status_code == 200


def test_the_test_mail_reaches_a_real_smtp_server_through_the_personal_provider(
    as_alice: Client, workspace, alice, smtp_server
):
    config = EspConfig(
        user=alice, kind="smtp", host=smtp_server.host, port=smtp_server.port, security=smtp_server.security,
        from_email="mailer@acme.example", username=smtp_server.username,
    )  # fmt: skip
    config.set_password(smtp_server.password)
    config.save()
    actions.create_contact(workspace, "sven@example.se", name="Sven")
    data = {**_form(contact="sven@example.se"), "action": "test", "from_email": "alice@example.org"}
    as_alice.post(reverse("ws-template-new", args=[workspace.pk]), data)
    worker = Worker("test-worker", pool_size=1)
    try:
        assert worker.run_once() == 1
    finally:
        worker.close()
    (received,) = smtp_server.messages
    parsed = email.message_from_bytes(received.data, policy=email.policy.default)
    assert (received.rcpt_tos, parsed["Subject"]) == (["alice@example.org"], "[Test] Hi Sven")
    assert "Hello Sven" in parsed.get_body(("html",)).get_content()
    sent = Message.objects.get()
    assert (sent.status, sent.provider_kind, sent.provider_reason) == ("sent", "smtp", "your personal setting")
