"""The template editor's helpers: rendering unsaved sources for the live preview, and the test
mail a member sends to themself.

A preview renders exactly as a campaign message would (the same sandbox, CSS inlining and
derived text part) with a sample or a chosen contact and sample per-recipient links. A test mail
is a queued ``Message`` with its body (category ``transactional``: one mail a person asked for),
on behalf of the member in the workspace's organization, so that delivery carries it through
their effective provider like any other mail of theirs.
"""

from __future__ import annotations

from typing import Any

from openesp.accounts.models import User, Workspace
from openesp.audience.models import Contact
from openesp.campaigns.templates import Compiled, Rendered, check_part, check_template, render_compiled, sample_context
from openesp.messaging.actions import enqueue_message
from openesp.messaging.models import Category, Message
from openesp.messaging.senders import check_sender

TEST_PREFIX = "[Test] "


def contact_data(contact: Contact) -> dict[str, Any]:
    """The ``contact`` a template sees: plain data, as at send time."""
    return {
        "email": contact.email,
        "name": contact.name,
        "language": contact.language,
        "attributes": dict(contact.attributes or {}),
    }


def preview_source(
    workspace: Workspace, *, subject: str, html: str, text: str, contact: Contact | None = None
) -> Rendered:
    """``subject``, ``html`` and ``text`` (not saved) rendered for ``contact`` or a sample one;
    ``TemplateError`` (part, line, reason) for the first part that fails."""
    check_template(subject, html, text)
    compiled = Compiled(
        check_part("subject", subject),
        check_part("html", html) if html.strip() else None,
        check_part("text", text) if text.strip() else None,
    )
    data = contact_data(contact) if contact is not None else None
    return render_compiled(compiled, sample_context(workspace, data))


def send_test(
    workspace: Workspace,
    actor: User,
    *,
    subject: str,
    html: str,
    text: str,
    from_email: str,
    contact: Contact | None = None,
) -> Message:
    """Queue the rendered template to ``actor``'s own address from ``from_email`` (the sender
    rules of ``POST /api/v1/messages``: ``SenderNotAllowed`` otherwise)."""
    check_sender(actor, workspace.organization, workspace, from_email)
    rendered = preview_source(workspace, subject=subject, html=html, text=text, contact=contact)
    return queue_test(workspace, actor, rendered, from_email=from_email, marker="1")


def queue_test(workspace: Workspace, actor: User, rendered: Rendered, *, from_email: str, marker: str) -> Message:
    """The one way a *send test* is queued: to ``actor``'s own address, subject prefixed, a
    transactional mail through the actor's effective provider. ``from_email`` is checked by the caller."""
    return enqueue_message(
        category=Category.TRANSACTIONAL,
        to_email=actor.email,
        to_name=actor.name,
        subject=(TEST_PREFIX + rendered.subject)[:998],
        text_body=rendered.text,
        html_body=rendered.html,
        from_email=from_email,
        user=actor,
        organization=workspace.organization,
        workspace=workspace,
        metadata={"template_test": marker},
    )
