"""Compiling and rendering template parts, free of Django: the delivery worker's build processes
import it to render campaign mail per recipient (``delivery.render``), and ``campaigns.templates``
(checking, saving, previews) builds on it. Templates run in the sandbox of ``campaigns.sandbox``
with the bounds of ``sandbox.rendering`` (output size and time), in whichever process renders.

Compiled parts are kept per process, keyed by the version's id and its sources (versions never
change), so a build process compiles a version once however many batches use it.
"""

from __future__ import annotations

import functools
import re
import traceback
from dataclasses import dataclass
from typing import Any

import css_inline
from jinja2 import Template as JinjaTemplate
from jinja2 import TemplateError as JinjaError
from jinja2 import TemplateSyntaxError, nodes

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
# A <style> tag in any case. Not ``"<style" in html.lower()``: lower-casing a whole rendered
# message for every recipient cost 16 µs when it holds any non-ASCII character.
_STYLE_TAG = re.compile(r"<[sS][tT][yY][lL][eE]")

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


def env_for(part: str) -> TemplateSandbox:
    return _html_env if part == "html" else _plain_env


def check_part(part: str, source: str) -> JinjaTemplate:
    """The compiled part; TemplateError when it does not compile or names unknown variables."""
    if len(source) > MAX_SOURCE:
        raise TemplateError(part, f"is longer than {MAX_SOURCE:,} characters")
    env = env_for(part)
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
def compiled_version(version_id: int, subject: str, html: str, text: str) -> Compiled:
    # Keyed by the id (versions never change) and the sources (so that a test database's reused
    # ids never hand out another version's templates).
    return _compile(subject, html, text)


@dataclass(frozen=True)
class Source:
    """A version's parts as plain data, for a process without the database (a build process)."""

    version_id: int
    subject: str
    html: str
    text: str

    def compiled(self) -> Compiled:
        return compiled_version(self.version_id, self.subject, self.html, self.text)


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
    if html and _STYLE_TAG.search(html):
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
