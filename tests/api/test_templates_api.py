"""``/api/v1/templates``: versions, preview, the test mail to yourself, errors naming the part."""

from __future__ import annotations

import pytest

from openesp.accounts.models import Membership, Role
from openesp.audience.actions import create_contact
from openesp.campaigns.models import Template, TemplateVersion
from openesp.messaging.models import Category, Message
from tests.api.conftest import api_for

pytestmark = pytest.mark.django_db

BODY = {
    "name": "Invite",
    "subject": "Hello {{ contact.name }}",
    "html": "<style>p { color: red }</style><p>Dear {{ contact.name }}, <a href='{{ response_url }}'>answer</a></p>",
    "text": "",
}


@pytest.fixture
def api(alice, workspace):
    return api_for(alice)


def _create(api, workspace, **changes):
    response = api.post("/api/v1/templates", {**BODY, **changes, "workspace": workspace.pk})
    assert response.status_code == 201, response.content
    return response.json()


def test_create_read_list_and_every_put_makes_a_version(api, workspace):
    made = _create(api, workspace)
    assert made["version"] == 1 and made["name"] == "Invite" and made["workspace_id"] == workspace.pk
    template_id = made["id"]

    changed = api.put(f"/api/v1/templates/{template_id}", {"subject": "Hi {{ contact.name }}", "html": "<p>v2</p>"})
    assert changed.status_code == 200, changed.content
    assert changed.json()["version"] == 2 and changed.json()["name"] == "Invite"
    renamed = api.put(f"/api/v1/templates/{template_id}", {"name": "Invitation", "subject": "v3", "text": "t"})
    assert renamed.json()["version"] == 3 and renamed.json()["name"] == "Invitation"

    got = api.get(f"/api/v1/templates/{template_id}").json()
    assert (got["version"], got["subject"], got["text"]) == (3, "v3", "t")
    versions = api.get(f"/api/v1/templates/{template_id}/versions").json()
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert versions[2]["subject"] == BODY["subject"]  # version 1 is unchanged
    assert [t["name"] for t in api.get("/api/v1/templates", workspace=workspace.pk).json()] == ["Invitation"]


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"html": "<p>\n\n{% if %}</p>"}, "html", "line 3: "),
        ({"subject": "Hi {{ contact.password }}"}, "subject", "line 1: 'contact.password' is not a variable"),
        ({"html": "<p>\n{{ campaign.secret }}</p>"}, "html", "line 2: 'campaign.secret' is not a variable"),
        ({"text": "a\n{{ ''.__class__.__mro__ }}"}, "text", None),
        ({"subject": ""}, "subject", "is required"),
        ({"html": "", "text": ""}, "html", "a template needs an HTML or a text part"),
    ],
)
def test_a_template_error_is_a_422_naming_the_part_and_line(api, workspace, changes, field, reason):
    response = api.post("/api/v1/templates", {**BODY, **changes, "workspace": workspace.pk})
    if field == "text":  # compiles, but the sandbox refuses it when rendered: checked by the preview
        assert response.status_code == 201
        preview = api.post(f"/api/v1/templates/{response.json()['id']}/preview", {})
        assert preview.status_code == 422
        (error,) = preview.json()["errors"]
        assert error["field"] == "text" and error["reason"].startswith("line 2: ")
        return
    assert response.status_code == 422, response.content
    (error,) = response.json()["errors"]
    assert error["field"] == field and error["reason"].startswith(reason)
    assert not Template.objects.exists()


def test_a_put_with_an_error_keeps_the_template_as_it_was(api, workspace):
    made = _create(api, workspace)
    response = api.put(f"/api/v1/templates/{made['id']}", {"subject": "x", "html": "{{ contact.name"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "html"
    assert TemplateVersion.objects.count() == 1


def test_a_name_taken_in_the_workspace_is_a_422(api, workspace):
    _create(api, workspace)
    response = api.post("/api/v1/templates", {**BODY, "workspace": workspace.pk})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "name"


def test_preview_with_a_contact_with_data_and_with_sample_links(api, workspace):
    made = _create(api, workspace)
    ann = create_contact(workspace, "ann@example.com", name="Ann")
    preview = api.post(f"/api/v1/templates/{made['id']}/preview", {"contact_id": ann.pk})
    assert preview.status_code == 200, preview.content
    body = preview.json()
    assert body["subject"] == "Hello Ann"
    assert '<p style="color: red;">Dear Ann' in body["html"]  # CSS inlined
    assert "https://example.com/r/sample-token/" in body["html"]
    assert "Dear Ann" in body["text"]  # derived from the HTML

    data = api.post(f"/api/v1/templates/{made['id']}/preview", {"data": {"contact": {"name": "Bo <b>"}}})
    assert data.json()["subject"] == "Hello Bo <b>" and "Dear Bo &lt;b&gt;" in data.json()["html"]
    sample = api.post(f"/api/v1/templates/{made['id']}/preview", {})
    assert sample.json()["subject"] == "Hello Someone"

    old = api.put(f"/api/v1/templates/{made['id']}", {"subject": "new", "text": "x"})
    assert old.status_code == 200
    v1 = api.post(f"/api/v1/templates/{made['id']}/preview", {"version": 1, "contact_id": ann.pk})
    assert v1.json()["subject"] == "Hello Ann"


def test_preview_errors_name_the_field(api, workspace, charlie, charlie_org):
    made = _create(api, workspace, html="<p>\n{{ contact.attributes.plan }}</p>")
    missing = api.post(f"/api/v1/templates/{made['id']}/preview", {})
    assert missing.status_code == 422
    assert missing.json()["errors"] == [{"field": "html", "reason": "line 2: 'dict object' has no attribute 'plan'"}]
    with_plan = api.post(
        f"/api/v1/templates/{made['id']}/preview", {"data": {"contact": {"attributes": {"plan": "gold"}}}}
    )
    assert "gold" in with_plan.json()["html"]
    link = api.post(f"/api/v1/templates/{made['id']}/preview", {"data": {"response_url": "https://evil.example/"}})
    assert link.status_code == 422 and link.json()["errors"][0]["field"] == "data.response_url"
    not_an_object = api.post(f"/api/v1/templates/{made['id']}/preview", {"data": {"contact": "Ann"}})
    assert not_an_object.status_code == 422 and not_an_object.json()["errors"][0]["field"] == "data.contact"
    no_version = api.post(f"/api/v1/templates/{made['id']}/preview", {"version": 7})
    assert no_version.status_code == 422 and no_version.json()["errors"][0]["field"] == "version"
    from openesp.accounts.models import Workspace

    theirs = create_contact(Workspace.objects.create(organization=charlie_org, name="C"), "c@example.net")
    foreign = api.post(f"/api/v1/templates/{made['id']}/preview", {"contact_id": theirs.pk})
    assert foreign.status_code == 422 and foreign.json()["errors"][0]["field"] == "contact_id"


SENDGRID_STYLE = {
    "name": "Order shipped",
    "subject": "Hello {{name}}",
    "html": "<p>Hi {{ name }},</p>\n<p>your {{user.plan}} order {{ order_id }} is on its way.</p>",
    "text": "",
}


def test_a_template_with_data_variables_saves_and_lists_them(api, workspace):
    made = _create(api, workspace, **SENDGRID_STYLE)
    assert made["data_variables"] == ["name", "order_id", "user"]
    assert api.get(f"/api/v1/templates/{made['id']}").json()["data_variables"] == ["name", "order_id", "user"]
    plain = _create(api, workspace)
    assert plain["data_variables"] == []
    versions = api.get(f"/api/v1/templates/{made['id']}/versions").json()
    assert versions[0]["data_variables"] == ["name", "order_id", "user"]


def test_a_preview_fills_data_variables_from_data_and_names_one_left_unfilled(api, workspace):
    made = _create(api, workspace, **SENDGRID_STYLE)
    unfilled = api.post(f"/api/v1/templates/{made['id']}/preview", {})
    assert unfilled.status_code == 422
    assert unfilled.json()["errors"] == [{"field": "subject", "reason": "line 1: 'name' is undefined"}]
    partly = api.post(f"/api/v1/templates/{made['id']}/preview", {"data": {"name": "Ada", "user": {"plan": "pro"}}})
    assert partly.status_code == 422
    assert partly.json()["errors"] == [{"field": "html", "reason": "line 2: 'order_id' is undefined"}]
    data = {"name": "Ada <3", "user": {"plan": "pro"}, "order_id": 42}
    filled = api.post(f"/api/v1/templates/{made['id']}/preview", {"data": data})
    assert filled.status_code == 200, filled.content
    assert filled.json()["subject"] == "Hello Ada <3"
    html = filled.json()["html"]
    assert "<p>Hi Ada &lt;3,</p>" in html and "your pro order 42 is on its way" in html


def test_campaign_mail_refuses_a_template_with_data_variables(api, workspace, alice):
    data_template = _create(api, workspace, **SENDGRID_STYLE)
    plain = _create(api, workspace)
    from openesp.audience.models import ContactList

    contacts = ContactList.objects.create(workspace=workspace, name="All")
    campaign = {"name": "Spring", "from": alice.email, "lists": [contacts.pk], "workspace": workspace.pk}
    refused = api.post("/api/v1/campaigns", {**campaign, "template_id": data_template["id"]})
    assert refused.status_code == 422, refused.content
    (error,) = refused.json()["errors"]
    assert error["field"] == "template_id" and "data variables (name, order_id, user)" in error["reason"]
    receipt = api.post(
        "/api/v1/campaigns", {**campaign, "template_id": plain["id"], "receipt_template_id": data_template["id"]}
    )
    assert receipt.status_code == 422 and receipt.json()["errors"][0]["field"] == "receipt_template_id"
    made = api.post("/api/v1/campaigns", {**campaign, "template_id": plain["id"]})
    assert made.status_code == 201, made.content
    patched = api.patch(f"/api/v1/campaigns/{made.json()['id']}", {"template_id": data_template["id"]})
    assert patched.status_code == 422 and patched.json()["errors"][0]["field"] == "template_id"
    automation = api.post(
        "/api/v1/automations",
        {"name": "Welcome", "trigger": "api", "template_id": data_template["id"], "from": alice.email,
         "workspace": workspace.pk},
    )  # fmt: skip
    assert automation.status_code == 422 and automation.json()["errors"][0]["field"] == "template_id"


def test_send_test_queues_the_rendered_mail_to_yourself(api, alice, workspace):
    made = _create(api, workspace)
    response = api.post(f"/api/v1/templates/{made['id']}/test", {"data": {"contact": {"name": "Ann"}}})
    assert response.status_code == 202, response.content
    message = Message.objects.get(public_id=response.json()["id"])
    assert response.json()["to"] == alice.email == message.to_email
    assert (message.category, message.status, message.from_email) == (Category.TRANSACTIONAL, "queued", alice.email)
    assert message.subject == "[Test] Hello Ann" and "Dear Ann" in message.html_body
    assert (message.user, message.workspace, message.organization) == (alice, workspace, workspace.organization)

    refused = api.post(f"/api/v1/templates/{made['id']}/test", {"from": "ceo@elsewhere.example"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "from"
    assert Message.objects.count() == 1


def test_delete_is_204_and_409_while_a_campaign_pins_a_version(api, alice, workspace):
    from openesp.campaigns.campaigns import create_campaign

    made = _create(api, workspace)
    unused = _create(api, workspace, name="Unused")
    assert api.delete(f"/api/v1/templates/{unused['id']}").status_code == 204
    assert api.get(f"/api/v1/templates/{unused['id']}").status_code == 404
    create_campaign(
        workspace, alice, name="C", template_version=TemplateVersion.objects.get(template_id=made["id"]),
        from_email=alice.email,
    )  # fmt: skip
    pinned = api.delete(f"/api/v1/templates/{made['id']}")
    assert pinned.status_code == 409 and pinned.json()["error"] == "conflict"
    assert "used by a campaign" in pinned.json()["detail"]
    assert Template.objects.filter(pk=made["id"]).exists()


def test_viewers_read_and_preview_but_change_nothing(api, bob, workspace):
    made = _create(api, workspace)
    Membership.objects.filter(user=bob).update(role=Role.VIEWER)
    viewer = api_for(bob)
    assert viewer.get(f"/api/v1/templates/{made['id']}").status_code == 200
    assert viewer.post(f"/api/v1/templates/{made['id']}/preview", {}).status_code == 200
    for method, path, body in [
        ("POST", "/api/v1/templates", {**BODY, "name": "Mine", "workspace": workspace.pk}),
        ("PUT", f"/api/v1/templates/{made['id']}", {"subject": "x", "text": "y"}),
        ("DELETE", f"/api/v1/templates/{made['id']}", None),
        ("POST", f"/api/v1/templates/{made['id']}/test", {}),
    ]:
        response = viewer.call(method, path, body)
        assert response.status_code == 403, (method, path, response.content)
    assert TemplateVersion.objects.count() == 1 and not Message.objects.exists()


def test_a_key_without_the_campaigns_scope_is_refused(alice, workspace):
    response = api_for(alice, scopes=["contacts"]).get("/api/v1/templates", workspace=workspace.pk)
    assert response.status_code == 403
    assert response.json()["detail"] == "this API key lacks the 'campaigns' scope"


def test_a_personal_key_must_name_the_workspace(api):
    response = api.post("/api/v1/templates", BODY)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "workspace"
