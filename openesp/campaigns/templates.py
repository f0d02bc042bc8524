"""Templates: checking, compiling and rendering their versions, and the actions that save them.

A version's three parts (``subject``, ``html``, ``text``) are Jinja2 templates run in the sandbox
of ``campaigns.sandbox``. Each version is compiled once per process and kept (versions never
change). The context is plain data only, never ORM objects:

    contact    {"email", "name", "language", "attributes"}
    campaign   {"name", "response_url"}
    workspace  {"name", "organization"}
    response_url, unsubscribe_url, preferences_url   (per recipient)
    trigger    {"data"}: what triggered an automation invitation; empty otherwise

Any other name a template uses is a **data variable** (``{{ name }}``, ``{{ user.name }}``):
filled by the data of the API call that sends the template — SendGrid's
``dynamic_template_data``, Mailjet's ``Variables``, a preview's ``data`` — as SendGrid's and
Mailjet's templates are. A template with data variables saves, and lists them
(``data_variables``); campaigns, reminders, receipts, automations and category messages have
no such data, so they refuse it with the variables named (``campaign_template_problems``).
Unknown fields of the known names (``{{ contact.nmae }}``) are refused when the template is
saved. docs/decisions/019-template-data-variables.md.

Errors name the part, the line and the reason (``TemplateError``, an ``InvalidInput``).
Compiling and rendering themselves live in ``campaigns.compiled``, which needs no Django (the
delivery worker's build processes render with it).
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from jinja2 import TemplateSyntaxError, meta

from openesp.accounts.models import User, Workspace
from openesp.campaigns.compiled import CONTEXT_FIELDS as CONTEXT_FIELDS
from openesp.campaigns.compiled import CONTEXT_NAMES, PARTS, compiled_version, env_for
from openesp.campaigns.compiled import MAX_SOURCE as MAX_SOURCE
from openesp.campaigns.compiled import MAX_SUBJECT as MAX_SUBJECT
from openesp.campaigns.compiled import Compiled as Compiled
from openesp.campaigns.compiled import Rendered as Rendered
from openesp.campaigns.compiled import TemplateError as TemplateError
from openesp.campaigns.compiled import check_part as check_part
from openesp.campaigns.compiled import render_compiled as render_compiled
from openesp.campaigns.models import Template, TemplateVersion
from openesp.lib.errors import FieldProblem, InvalidInput

# --- checking ----------------------------------------------------------------------------------


def _undeclared(part: str, source: str) -> set[str]:
    env = env_for(part)
    try:
        return meta.find_undeclared_variables(env.parse(source)) - CONTEXT_NAMES - set(env.globals)
    except TemplateSyntaxError as exc:  # e.g. an unknown filter, found by the compiler
        raise TemplateError(part, exc.message or "syntax error", exc.lineno) from None


@functools.lru_cache(maxsize=1024)
def data_variables(subject: str, html: str, text: str) -> tuple[str, ...]:
    """The names the parts use beyond the context's: filled by an API call's data, sorted."""
    found: set[str] = set()
    for part, source in zip(PARTS, (subject, html, text), strict=True):
        if source.strip():
            found |= _undeclared(part, source)
    return tuple(sorted(found))


def version_data_variables(version: TemplateVersion) -> tuple[str, ...]:
    return data_variables(version.subject, version.html, version.text)


def campaign_template_problems(*named: tuple[str, TemplateVersion | None]) -> list[FieldProblem]:
    """A problem for each (field, version) whose template has data variables: campaigns,
    reminders, receipts, automations and category messages render with the contact's context
    alone, which has no data to fill them."""
    problems = []
    for field, version in named:
        names = version_data_variables(version) if version is not None else ()
        if names:
            listed = ", ".join(names)
            problems.append(
                FieldProblem(
                    field,
                    f"the template uses data variables ({listed}) that only an API send's data fills; "
                    "a campaign's mail knows contact, campaign, workspace and the per-recipient links "
                    "(for a contact's own values use contact.attributes)",
                )
            )
    return problems


def check_template(subject: str, html: str, text: str) -> None:
    """TemplateError for the first part at fault; also when there is no body at all."""
    if not subject.strip():
        raise TemplateError("subject", "is required")
    if not html.strip() and not text.strip():
        raise TemplateError("html", "a template needs an HTML or a text part")
    for part, source in zip(PARTS, (subject, html, text), strict=True):
        check_part(part, source)


def compiled(version: TemplateVersion) -> Compiled:
    return compiled_version(version.pk, version.subject, version.html, version.text)


# --- rendering ---------------------------------------------------------------------------------


def render_version(version: TemplateVersion, context: dict[str, Any], *, derive_text: bool = True) -> Rendered:
    return render_compiled(compiled(version), context, derive_text=derive_text)


def sample_context(workspace: Workspace, contact: dict[str, Any] | None = None) -> dict[str, Any]:
    """A context for previews and checks: a sample contact unless one is given, sample links."""
    return {
        "contact": contact or {"email": "someone@example.com", "name": "Someone", "language": "", "attributes": {}},
        "campaign": {"name": "Preview", "response_url": ""},
        "workspace": workspace_data(workspace),
        "response_url": "https://example.com/r/sample-token/",
        "unsubscribe_url": "https://example.com/unsubscribe/sample/",
        "preferences_url": "https://example.com/preferences/sample/",
        "trigger": {"data": {}},
    }


def workspace_data(workspace: Workspace) -> dict[str, Any]:
    return {"name": workspace.name, "organization": workspace.organization.name}


def render_preview(version: TemplateVersion, contact: dict[str, Any] | None = None) -> Rendered:
    return render_version(version, sample_context(version.template.workspace, contact))


# --- actions -----------------------------------------------------------------------------------


def _clean_name(workspace: Workspace, name: object, *, exclude: int | None = None) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput.one("name", "is required")
    clean = name.strip()
    if len(clean) > 200:
        raise InvalidInput.one("name", "must be at most 200 characters")
    taken = Template.objects.filter(workspace=workspace, name=clean)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise InvalidInput.one("name", "the workspace has a template of this name already")
    return clean


def create_template(
    workspace: Workspace, *, name: str, subject: str, html: str = "", text: str = "", actor: User | None = None
) -> TemplateVersion:
    """A new template and its version 1. Nothing is saved unless every part is valid."""
    clean_name = _clean_name(workspace, name)
    check_template(subject, html, text)
    try:
        with transaction.atomic():
            template = Template.objects.create(workspace=workspace, name=clean_name, created_by=actor)
            return TemplateVersion.objects.create(
                template=template, number=1, subject=subject, html=html, text=text, created_by=actor
            )
    except IntegrityError:
        raise InvalidInput.one("name", "the workspace has a template of this name already") from None


def save_template(
    template: Template,
    *,
    subject: str,
    html: str = "",
    text: str = "",
    name: str | None = None,
    actor: User | None = None,
) -> TemplateVersion:
    """A new version of ``template`` (and its new name, if given). Campaigns keep the version they pinned."""
    clean_name = _clean_name(template.workspace, name, exclude=template.pk) if name is not None else template.name
    check_template(subject, html, text)
    with transaction.atomic():
        # The template's row lock orders concurrent saves, so version numbers never collide.
        locked = Template.objects.select_for_update().get(pk=template.pk)
        number = (locked.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        version = TemplateVersion.objects.create(
            template=locked, number=number, subject=subject, html=html, text=text, created_by=actor
        )
        locked.name, locked.updated_at = clean_name, timezone.now()
        locked.save(update_fields=["name", "updated_at"])
    template.refresh_from_db()
    return version
