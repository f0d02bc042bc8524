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
"""

from __future__ import annotations

import functools
import re
import traceback
from dataclasses import dataclass
from typing import Any

import css_inline
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from jinja2 import Template as JinjaTemplate
from jinja2 import TemplateError as JinjaError
from jinja2 import TemplateSyntaxError, meta, nodes

from openesp.accounts.models import User, Workspace
from openesp.campaigns.models import Template, TemplateVersion
from openesp.campaigns.sandbox import MAX_OUTPUT, Attributes, TemplateSandbox, rendering
from openesp.lib.errors import FieldProblem, InvalidInput
from openesp.lib.htmltext import html_to_text

CONTEXT_NAMES = frozenset(
    {"contact", "campaign", "workspace", "response_url", "unsubscribe_url", "preferences_url", "trigger"}
)
# The fields of the context's objects; a template naming another (``contact.nmae``) is refused.
CONTEXT_FIELDS: dict[str, frozenset[str]] = {
    "contact": frozenset({"email", "name", "language", "attributes"}),
    "campaign": frozenset({"name", "response_url"}),
    "workspace": frozenset({"name", "organization"}),
    "trigger": frozenset({"data"}),
}
# What a plain dict answers to in the sandbox (``contact.get("name")``, ``contact.items()``).
_DICT_METHODS = frozenset({"get", "items", "keys", "values"})
PARTS = ("subject", "html", "text")
MAX_SOURCE = 200_000  # characters of one part's source
MAX_SUBJECT = 998  # RFC 5322's line limit
_SOURCE_NAME = "<template>"

_html_env = TemplateSandbox(autoescape=True)
_plain_env = TemplateSandbox(autoescape=False)
# Never fetch a stylesheet a template links to: the worker must not make requests a template chose.
_inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_link_tags=False)


class TemplateError(InvalidInput):
    """A template part does not compile or does not render: the part, the line, the reason."""

    def __init__(self, field: str, reason: str, line: int | None = None) -> None:
        self.field, self.reason, self.line = field, reason, line
        super().__init__([FieldProblem(field, f"line {line}: {reason}" if line else reason)])


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


# --- compiling ---------------------------------------------------------------------------------


def _env(part: str) -> TemplateSandbox:
    return _html_env if part == "html" else _plain_env


def check_part(part: str, source: str) -> JinjaTemplate:
    """The compiled part; TemplateError when it does not compile or names unknown variables."""
    if len(source) > MAX_SOURCE:
        raise TemplateError(part, f"is longer than {MAX_SOURCE:,} characters")
    env = _env(part)
    try:
        ast = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(part, exc.message or "syntax error", exc.lineno) from None
    for node in ast.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        raise TemplateError(part, "templates cannot include, import or extend other templates", node.lineno)
    _check_fields(part, ast)
    try:
        return env.from_string(source)
    except TemplateSyntaxError as exc:  # e.g. an unknown filter, found by the compiler
        raise TemplateError(part, exc.message or "syntax error", exc.lineno) from None


def _check_fields(part: str, ast: nodes.Template) -> None:
    """TemplateError for ``contact.nmae`` and the like: a field the context's object lacks
    (unless the template assigns that name itself, ``{% for contact in … %}``)."""
    assigned = {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
    for node in ast.find_all(nodes.Getattr):
        target = node.node
        if not isinstance(target, nodes.Name) or target.name in assigned:
            continue
        fields = CONTEXT_FIELDS.get(target.name)
        if fields is not None and node.attr not in fields and node.attr not in _DICT_METHODS:
            has = ", ".join(sorted(fields))
            reason = f"'{target.name}.{node.attr}' is not a variable templates know ({target.name} has {has})"
            raise TemplateError(part, reason, node.lineno)


def _undeclared(part: str, source: str) -> set[str]:
    env = _env(part)
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


@dataclass(frozen=True)
class Compiled:
    subject: JinjaTemplate
    html: JinjaTemplate | None
    text: JinjaTemplate | None


def _compile(subject: str, html: str, text: str) -> Compiled:
    return Compiled(
        check_part("subject", subject),
        check_part("html", html) if html.strip() else None,
        check_part("text", text) if text.strip() else None,
    )


@functools.lru_cache(maxsize=512)
def _compiled_version(version_id: int, subject: str, html: str, text: str) -> Compiled:
    # Keyed by the id (versions never change) and the sources (so that a test database's reused
    # ids never hand out another version's templates).
    return _compile(subject, html, text)


def compiled(version: TemplateVersion) -> Compiled:
    return _compiled_version(version.pk, version.subject, version.html, version.text)


# --- rendering ---------------------------------------------------------------------------------


def _line_of_error(exc: BaseException) -> int | None:
    # Jinja rewrites the traceback so that template frames carry the template's line numbers.
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == _SOURCE_NAME]
    return lines[-1] if lines else None


def _render_part(part: str, template: JinjaTemplate, context: dict[str, Any]) -> str:
    try:
        with rendering(max_output=MAX_OUTPUT):
            return template.render(context)
    except JinjaError as exc:
        raise TemplateError(part, str(exc.message or exc), _line_of_error(exc)) from None
    except RecursionError:
        raise TemplateError(part, "too deeply nested (a macro that calls itself without end?)") from None
    except (ArithmeticError, TypeError, ValueError, LookupError) as exc:
        raise TemplateError(part, f"{type(exc).__name__}: {exc}", _line_of_error(exc)) from None


def render_compiled(template: Compiled, context: dict[str, Any], *, derive_text: bool = True) -> Rendered:
    """Subject, HTML (CSS inlined) and text (derived from the HTML when the version has none;
    with ``derive_text=False`` left empty then, for a caller that derives it elsewhere)."""
    context = _folding_attributes(context)
    subject = re.sub(r"\s+", " ", _render_part("subject", template.subject, context)).strip()
    if len(subject) > MAX_SUBJECT:
        raise TemplateError("subject", f"renders longer than {MAX_SUBJECT} characters")
    html = _render_part("html", template.html, context) if template.html is not None else ""
    if html and "<style" in html.lower():
        try:
            html = _inliner.inline(html)
        except ValueError as exc:  # css_inline's InlineError
            raise TemplateError("html", f"CSS could not be inlined: {exc}") from None
    if template.text is not None:
        text = _render_part("text", template.text, context)
    else:
        text = html_to_text(html) if derive_text else ""
    return Rendered(subject, html, text)


def _folding_attributes(context: dict[str, Any]) -> dict[str, Any]:
    """The context with the contact's attributes found by a name in any case (``Attributes``)."""
    contact = context.get("contact")
    if isinstance(contact, dict) and type(contact.get("attributes")) is dict:
        return {**context, "contact": {**contact, "attributes": Attributes(contact["attributes"])}}
    return context


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
