"""``template_id`` (SendGrid) and ``TemplateID`` (Mailjet): an openesp template rendered with the
request's data (``dynamic_template_data``, ``Variables``) as its context.

Simple placeholders read the same in Handlebars and Jinja2 (``{{name}}``, ``{{user.name}}``), so
a template written for SendGrid works when it uses only those; Handlebars blocks
(``{{#each}}``, ``{{#if}}``, ``{{/if}}``, ``{{else}}``, partials, comments) do not, and are
refused with a 400 naming the field rather than rendered wrong. The template's latest version is
rendered in the campaigns' sandbox (``campaigns.sandbox``: its size and time limits), with the
request's data at the top level beside ``workspace``, and also where a template saved in the
editor can name it (the editor knows only the campaign context's names): ``contact`` is the first
recipient with the data as its ``attributes`` (``{{ contact.attributes.name }}``), and
``trigger.data`` is the data too.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from django.http import Http404
from jinja2 import TemplateSyntaxError

from openesp.campaigns.access import access_template
from openesp.campaigns.sandbox import TemplateSandbox
from openesp.campaigns.templates import Compiled, Rendered, TemplateError, render_compiled, workspace_data
from openesp.compat.auth import Sender
from openesp.lib.errors import InvalidInput

_HANDLEBARS_BLOCK = re.compile(r"\{\{~?\s*(?:[#/^>!]|else\b)")
_html = TemplateSandbox(autoescape=True)
_plain = TemplateSandbox(autoescape=False)


@functools.lru_cache(maxsize=256)
def _compiled(version_id: int, subject: str, html: str, text: str) -> Compiled:
    # Keyed by the sources too: a test database reuses ids (as campaigns.templates does).
    return Compiled(
        _plain.from_string(subject),
        _html.from_string(html) if html.strip() else None,
        _plain.from_string(text) if text.strip() else None,
    )


def render(sender: Sender, template_id: Any, data: dict[str, Any], recipient: dict[str, str], field: str) -> Rendered:
    """The template rendered with ``data``; InvalidInput naming ``field`` when the template is
    not the sender's, uses Handlebars blocks, or does not render."""
    try:
        template = access_template(sender.actor, template_id, workspace=sender.workspace)
    except Http404:
        raise InvalidInput.one(field, f"no template with the id {template_id!r} in your workspace") from None
    version = template.latest_version()
    for part, source in (("subject", version.subject), ("html", version.html), ("text", version.text)):
        block = _HANDLEBARS_BLOCK.search(source)
        if block:
            raise InvalidInput.one(
                field,
                f"the template's {part} uses a Handlebars block ({source[block.start() : block.start() + 12]}…); "
                "openesp templates are Jinja2: only simple {{name}} and {{user.name}} placeholders read the "
                "same, write blocks as {% for %} and {% if %}",
            )
    contact = {"email": recipient.get("email", ""), "name": recipient.get("name", ""), "language": "",
               "attributes": data}  # fmt: skip
    context = {"workspace": workspace_data(template.workspace), "contact": contact, "trigger": {"data": data}, **data}
    try:
        compiled = _compiled(version.pk, version.subject, version.html, version.text)
        return render_compiled(compiled, context)
    except TemplateError as exc:
        raise InvalidInput.one(field, f"the template's {exc.field} does not render: {exc.problems[0].reason}") from None
    except TemplateSyntaxError as exc:  # a source saved before the editor checked it as strictly
        raise InvalidInput.one(field, f"the template does not compile: {exc}") from None
