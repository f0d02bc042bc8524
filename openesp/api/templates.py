"""Templates of campaign mail (scope ``campaigns``): versions, preview, a test mail to yourself.

A template's content lives in immutable versions: ``POST`` makes version 1, every ``PUT`` the
next; a campaign pins one. A template that does not compile, or names a field the context's
objects lack (``contact.nmae``), is a 422 naming the part (``subject``, ``html``, ``text``) with
the line and the reason. Other names are data variables (``data_variables``), filled by an API
send's data (SendGrid's ``dynamic_template_data``, Mailjet's ``Variables``) or a preview's
``data``; a preview that leaves one unfilled is a 422 naming it. Tenancy as for the audience
routes (``api.scope``): ids in the path answer 404 alike for missing and foreign templates, a
contact id in a body the workspace does not have is a 422.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from openesp.accounts.access import require_editor
from openesp.api.auth import ApiKeyAuth, caller
from openesp.api.errors import ERRORS, ErrorOut
from openesp.api.params import MAX_ID, Id
from openesp.api.scope import WORKSPACE_HELP, workspace_of
from openesp.audience.access import contact_named
from openesp.campaigns import editing
from openesp.campaigns.access import access_template
from openesp.campaigns.models import Template, TemplateVersion
from openesp.campaigns.templates import (
    MAX_SOURCE,
    create_template,
    render_version,
    sample_context,
    save_template,
    version_data_variables,
)
from openesp.lib.errors import InvalidInput

router = Router(auth=ApiKeyAuth("campaigns"), tags=["templates"])

CAMPAIGN_REFUSAL = "viewers cannot change campaigns or templates in this workspace"
_PART = f"a Jinja2 template (sandboxed), at most {MAX_SOURCE:,} characters; see docs/campaigns.md for the variables"
PREVIEW_KEYS = ("contact", "campaign", "workspace", "trigger")
LINKS = ("response_url", "unsubscribe_url", "preferences_url")
_DATA_VARIABLES = (
    "names the template uses beyond contact, campaign, workspace, trigger and the per-recipient links: "
    "filled by the data of an API send (SendGrid dynamic_template_data, Mailjet Variables) or a preview's "
    "`data`; campaigns, reminders, receipts, automations and category messages refuse a template with any"
)

VersionNumber = Annotated[int, Field(ge=1, le=MAX_ID)]
"""A template version's number, bounded as the database holds it."""


class TemplateIn(Schema):
    name: str = Field(max_length=200)
    subject: str = Field(description=_PART)
    html: str = Field("", description=_PART + "; autoescaped, CSS in <style> is inlined")
    text: str = Field("", description=_PART + "; omitted or empty: derived from the HTML")
    workspace: Id | None = Field(None, description=WORKSPACE_HELP)


class TemplatePut(Schema):
    """The new version's parts (all of them: a version is whole), and a new name if wanted."""

    name: str | None = Field(None, max_length=200, description="omitted: the name stays")
    subject: str = Field(description=_PART)
    html: str = Field("", description=_PART)
    text: str = Field("", description=_PART)


class TemplateOut(Schema):
    id: int
    workspace_id: int
    name: str
    version: int = Field(description="the latest version's number")
    subject: str
    html: str
    text: str
    data_variables: list[str] = Field(description=_DATA_VARIABLES)
    created_at: datetime
    updated_at: datetime


class VersionOut(Schema):
    version: int
    subject: str
    html: str
    text: str
    data_variables: list[str] = Field(description=_DATA_VARIABLES)
    created_at: datetime


class TemplatePreviewIn(Schema):
    contact_id: Id | None = Field(None, description="render for this contact of the workspace")
    data: dict[str, Any] | None = Field(
        None,
        description="variables to render with: `contact` (`email`, `name`, `language`, `attributes`), "
        "`campaign` (`name`, `response_url`), `workspace` (`name`, `organization`) and `trigger` (`data`) "
        "are objects merged over the sample ones; any other name sets a data variable "
        '(`{"name": "Ada", "user": {"plan": "pro"}}`)',
    )
    version: VersionNumber | None = Field(None, description="a version number; omitted: the latest")


class TemplatePreviewOut(Schema):
    subject: str
    html: str
    text: str


class TemplateTestIn(TemplatePreviewIn):
    from_: str | None = Field(
        None,
        alias="from",
        description="a sender you may use (as for POST /api/v1/messages); omitted: your own address",
    )


class TemplateTestOut(Schema):
    id: uuid.UUID = Field(description="the queued message (GET /api/v1/messages/{id})")
    to: str = Field(description="your own address")


def template_out(template: Template, version: TemplateVersion | None = None) -> dict[str, Any]:
    version = version or template.latest_version()
    return {
        "id": template.pk,
        "workspace_id": template.workspace_id,
        "name": template.name,
        "version": version.number,
        "subject": version.subject,
        "html": version.html,
        "text": version.text,
        "data_variables": list(version_data_variables(version)),
        "created_at": template.created_at,
        "updated_at": template.updated_at,
    }


@router.post(
    "/templates",
    response={201: TemplateOut, **ERRORS},
    summary="Make a template (its version 1)",
    description="422 names the part at fault with the line and the reason, e.g. "
    '`{"field": "html", "reason": "line 3: unexpected \'}\'"}`, or `name` when the workspace has a '
    "template of that name.",
)
def create(request: HttpRequest, payload: TemplateIn) -> Status[dict[str, Any]]:
    c = caller(request)
    workspace = workspace_of(c, payload.workspace)
    require_editor(c.actor, workspace, CAMPAIGN_REFUSAL)
    version = create_template(
        workspace, name=payload.name, subject=payload.subject, html=payload.html, text=payload.text, actor=c.user
    )
    return Status(201, template_out(version.template, version))


@router.get("/templates", response={200: list[TemplateOut], **ERRORS}, summary="A workspace's templates, by name")
def list_templates(request: HttpRequest, workspace: Id | None = None) -> list[dict[str, Any]]:
    c = caller(request)
    ws = workspace_of(c, workspace)
    return [template_out(t) for t in ws.templates.order_by("name", "id")]


@router.get(
    "/templates/{template_id}", response={200: TemplateOut, **ERRORS}, summary="A template, as its latest version"
)
def get_template(request: HttpRequest, template_id: Id) -> dict[str, Any]:
    return template_out(access_template(caller(request).actor, template_id))


@router.put(
    "/templates/{template_id}",
    response={200: TemplateOut, **ERRORS},
    summary="Save a template: a new version",
    description="Campaigns keep the version they pinned. 422 as for POST.",
)
def put_template(request: HttpRequest, template_id: Id, payload: TemplatePut) -> dict[str, Any]:
    c = caller(request)
    template = access_template(c.actor, template_id)
    require_editor(c.actor, template.workspace, CAMPAIGN_REFUSAL)
    version = save_template(
        template, subject=payload.subject, html=payload.html, text=payload.text, name=payload.name, actor=c.user
    )
    return template_out(template, version)


@router.delete(
    "/templates/{template_id}",
    response={204: None, 409: ErrorOut, **ERRORS},
    summary="Delete a template and its versions",
    description="409 while a campaign or a reminder pins one of its versions.",
)
def delete_template(request: HttpRequest, template_id: Id) -> Status[None]:
    c = caller(request)
    template = access_template(c.actor, template_id)
    require_editor(c.actor, template.workspace, CAMPAIGN_REFUSAL)
    editing.delete_template(template)
    return Status(204, None)


@router.get(
    "/templates/{template_id}/versions",
    response={200: list[VersionOut], **ERRORS},
    summary="A template's versions, newest first",
)
def list_versions(request: HttpRequest, template_id: Id) -> list[dict[str, Any]]:
    template = access_template(caller(request).actor, template_id)
    return [
        {
            "version": v.number,
            "subject": v.subject,
            "html": v.html,
            "text": v.text,
            "data_variables": list(version_data_variables(v)),
            "created_at": v.created_at,
        }
        for v in template.versions.order_by("-number")
    ]


def _version(template: Template, number: int | None) -> TemplateVersion:
    if number is None:
        return template.latest_version()
    version = template.versions.filter(number=number).first()
    if version is None:
        raise InvalidInput.one("version", f"the template has no version {number}")
    return version


def _context(request: HttpRequest, template: Template, payload: TemplatePreviewIn) -> dict[str, Any]:
    """The sample context, with the chosen contact and the given ``data`` over it; the
    per-recipient links keep their sample values."""
    c = caller(request)
    contact: dict[str, Any] | None = None
    if payload.contact_id is not None:
        found = contact_named(c.actor, payload.contact_id, workspace=template.workspace)
        contact = {
            "email": found.email,
            "name": found.name,
            "language": found.language,
            "attributes": dict(found.attributes or {}),
        }
    context = sample_context(template.workspace, contact)
    for key, value in (payload.data or {}).items():
        if key in LINKS:
            raise InvalidInput.one(f"data.{key}", "is a per-recipient link: a preview gives it a sample value")
        if key in PREVIEW_KEYS:
            if not isinstance(value, dict):
                raise InvalidInput.one(f"data.{key}", "must be an object, merged over the sample one")
            context[key] = {**context[key], **value}
        else:
            context[key] = value
    return context


@router.post(
    "/templates/{template_id}/preview",
    response={200: TemplatePreviewOut, **ERRORS},
    summary="Render a template for a contact or for data you give",
    description="`contact_id` (a contact of the workspace) or `data` (`contact`, `campaign`, `workspace`, "
    "`trigger` merged over the sample ones; any other key fills a data variable), or neither (the sample). "
    "The per-recipient links (`response_url`, `unsubscribe_url`, "
    "`preferences_url`) get sample values. A template that fails for this data is a 422 naming the part: "
    '`{"field": "html", "reason": "line 3: \'dict object\' has no attribute \'plan\'"}`.',
)
def preview(request: HttpRequest, template_id: Id, payload: TemplatePreviewIn) -> dict[str, Any]:
    template = access_template(caller(request).actor, template_id)
    version = _version(template, payload.version)
    rendered = render_version(version, _context(request, template, payload))
    return {"subject": rendered.subject, "html": rendered.html, "text": rendered.text}


@router.post(
    "/templates/{template_id}/test",
    response={202: TemplateTestOut, **ERRORS},
    summary="Send a template to yourself (a test mail), through your effective provider",
    description="Renders as the preview does (`contact_id`, `data`, `version`) and queues the result to "
    "your own address, subject prefixed `[Test] `, as a transactional mail from `from` (default: your own "
    "address; the sender rules of POST /api/v1/messages apply, a 422 naming `from` otherwise). Answers "
    "202 with the message id once it is queued; follow it with GET /api/v1/messages/{id} (scope "
    "`messages.read`).",
)
def send_test(request: HttpRequest, template_id: Id, payload: TemplateTestIn) -> Status[dict[str, Any]]:
    c = caller(request)
    template = access_template(c.actor, template_id)
    require_editor(c.actor, template.workspace, CAMPAIGN_REFUSAL)
    version = _version(template, payload.version)
    context = _context(request, template, payload)
    message = editing.send_test(version, c.user, from_email=payload.from_ or "", context=context)
    return Status(202, {"id": message.public_id, "to": message.to_email})
