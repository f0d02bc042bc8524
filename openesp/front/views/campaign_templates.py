"""Templates of a workspace: the list, the editor with its live preview, the versions, a test
mail to oneself, and deleting.

Every save makes a new version (``campaigns.templates``). The editor's script posts the form to
``ws-template-preview`` as one types (debounced) and shows the rendered subject, HTML (in a
sandboxed frame: no script, no same-origin access) and text, or the part, line and reason of the
first error; without script, the Preview button posts the form and the page shows the same.
Viewers see the templates, preview them and change nothing.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from openesp.accounts.models import Workspace
from openesp.audience import queries as audience_queries
from openesp.audience.actions import normalise_email
from openesp.audience.models import Contact
from openesp.campaigns import queries
from openesp.campaigns.editing import delete_template
from openesp.campaigns.errors import Conflict
from openesp.campaigns.models import Template, TemplateVersion
from openesp.campaigns.preview import preview_source, send_test
from openesp.campaigns.templates import TemplateError, create_template, save_template, version_data_variables
from openesp.front.campaign_forms import TemplateForm
from openesp.front.helpers import add_problems, member_view, the_user
from openesp.front.views.audience_common import translated
from openesp.front.views.campaign_common import (
    campaign_workspace,
    conflict_text,
    page_context,
    refuse_viewers,
    template_in,
)
from openesp.lib.errors import InvalidInput
from openesp.messaging.senders import SenderNotAllowed

STARTER = {
    "subject": "{{ workspace.organization }} invites you",
    "html": (
        "<style>\n  p { font-family: sans-serif; }\n"
        "  a.button { background: #3b5bdb; color: #fff; padding: 8px 14px; }\n"
        "</style>\n<p>Hello {{ contact.name or contact.email }},</p>\n"
        '<p><a class="button" href="{{ response_url }}">Respond</a></p>\n'
        '<p><small><a href="{{ unsubscribe_url }}">Unsubscribe</a></small></p>\n'
    ),
}


def _context(workspace: Workspace, can_edit: bool, **extra: Any) -> dict[str, Any]:
    return page_context(workspace, can_edit, "templates", **extra)


def _preview_contact(workspace: Workspace, raw: str) -> Contact | None:
    """The contact to preview as (by address, in this workspace); None for the sample one.
    InvalidInput naming ``contact`` when the workspace has none with this address."""
    if not raw.strip():
        return None
    try:
        _email, key = normalise_email(raw, "contact")
    except InvalidInput:
        raise InvalidInput.one("contact", "the workspace has no contact with this address") from None
    contact = audience_queries.contacts_of(workspace).filter(email_key=key).first()
    if contact is None:
        raise InvalidInput.one("contact", "the workspace has no contact with this address")
    return contact


def _problem(exc: InvalidInput) -> dict[str, Any]:
    """The first problem as the preview shows it: the part, the line (when known) and the reason."""
    if isinstance(exc, TemplateError):
        return {"ok": False, "field": exc.field, "line": exc.line, "reason": _(exc.reason)}
    problem = exc.problems[0]
    return {"ok": False, "field": problem.field, "line": None, "reason": _(str(problem.reason))}


def _render_preview(workspace: Workspace, data: dict[str, str]) -> dict[str, Any]:
    try:
        contact = _preview_contact(workspace, data.get("contact", ""))
        rendered = preview_source(
            workspace, subject=data.get("subject", ""), html=data.get("html", ""), text=data.get("text", ""),
            contact=contact,
        )  # fmt: skip
    except InvalidInput as exc:
        return _problem(exc)
    return {"ok": True, "subject": rendered.subject, "html": rendered.html, "text": rendered.text}


@require_GET
@member_view
def template_list(request: HttpRequest, ws_id: int) -> HttpResponse:
    workspace, can_edit = campaign_workspace(request, ws_id)
    return render(
        request,
        "front/campaigns/templates.html",
        _context(workspace, can_edit, templates=queries.templates_of(workspace)),
    )


def _editor(request: HttpRequest, workspace: Workspace, can_edit: bool, template: Template | None) -> HttpResponse:
    """New and edit: Save makes a version, Preview shows the rendering (without script), Send
    test mails it to oneself."""
    user = the_user(request)
    preview: dict[str, Any] | None = None
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "save")
        form = TemplateForm(request.POST)
        if action != "preview":
            refuse_viewers(request, workspace)
        if form.is_valid():
            data = form.cleaned_data
            if action == "preview":
                preview = _render_preview(workspace, data)
                if not preview["ok"]:
                    preview["label"] = form.fields[preview["field"]].label if preview["field"] in form.fields else ""
            elif action == "test":
                sent = _send_test(request, workspace, form)
                if sent:
                    messages.success(request, _("A test is on its way to %(email)s.") % {"email": user.email})
            else:
                saved = _save(form, workspace, template, user)
                if saved is not None:
                    messages.success(request, _("Saved as version %(number)s.") % {"number": saved.number})
                    return redirect("ws-template", workspace.pk, saved.template_id)
        if form.errors:
            status = 400
    else:
        version = _initial_version(request, template)
        initial = {"from_email": user.email, **STARTER} if template is None else {"from_email": user.email}
        if version is not None and template is not None:
            initial.update(name=template.name, subject=version.subject, html=version.html, text=version.text)
        form = TemplateForm(initial=initial)
    latest = template.latest_version() if template is not None else None
    data_variables = version_data_variables(latest) if latest is not None else ()
    context = _context(
        workspace, can_edit, form=form, template=template, latest=latest, preview=preview, data_variables=data_variables
    )
    return render(request, "front/campaigns/template_form.html", context, status=status)


def _initial_version(request: HttpRequest, template: Template | None) -> TemplateVersion | None:
    """The version the editor opens: ``?version=N`` (from the versions page) or the latest."""
    if template is None:
        return None
    wanted = request.GET.get("version", "")
    if wanted.isdigit():
        found = queries.versions_of(template).filter(number=int(wanted)).first()
        if found is not None:
            return found
    return template.latest_version()


def _save(form: TemplateForm, workspace: Workspace, template: Template | None, user: Any) -> TemplateVersion | None:
    data = form.cleaned_data
    parts = {"subject": data["subject"], "html": data["html"], "text": data["text"]}
    try:
        if template is None:
            return create_template(workspace, name=data["name"], actor=user, **parts)
        return save_template(template, name=data["name"], actor=user, **parts)
    except InvalidInput as exc:
        add_problems(form, translated(exc))
        return None


def _send_test(request: HttpRequest, workspace: Workspace, form: TemplateForm) -> bool:
    data = form.cleaned_data
    try:
        sender, _key = normalise_email(data.get("from_email") or the_user(request).email, "from_email")
        contact = _preview_contact(workspace, data.get("contact", ""))
        send_test(
            workspace, the_user(request), subject=data["subject"], html=data["html"], text=data["text"],
            from_email=sender, contact=contact,
        )  # fmt: skip
    except InvalidInput as exc:
        add_problems(form, translated(exc))
        return False
    except SenderNotAllowed as exc:
        form.add_error("from_email", _(str(exc)))
        return False
    return True


@require_http_methods(["GET", "POST"])
@member_view
def template_new(request: HttpRequest, ws_id: int) -> HttpResponse:
    workspace, can_edit = campaign_workspace(request, ws_id)
    refuse_viewers(request, workspace)
    return _editor(request, workspace, can_edit, None)


@require_http_methods(["GET", "POST"])
@member_view
def template_edit(request: HttpRequest, ws_id: int, template_id: int) -> HttpResponse:
    workspace, can_edit = campaign_workspace(request, ws_id)
    return _editor(request, workspace, can_edit, template_in(request, workspace, template_id))


@require_POST
@member_view
def template_preview(request: HttpRequest, ws_id: int) -> HttpResponse:
    """The live preview for the editor's script: the form's parts rendered, as JSON. Renders
    only; viewers may use it too."""
    workspace, _can_edit = campaign_workspace(request, ws_id)
    form = TemplateForm(request.POST)
    if not form.is_valid() and any(name in form.errors for name in ("subject", "html", "text", "contact")):
        field = next(name for name in ("subject", "html", "text", "contact") if name in form.errors)
        return JsonResponse({"ok": False, "field": field, "line": None, "reason": form.errors[field][0]})
    data = {name: form.cleaned_data.get(name) or "" for name in ("subject", "html", "text", "contact")}
    return JsonResponse(_render_preview(workspace, data))


@require_GET
@member_view
def template_versions(request: HttpRequest, ws_id: int, template_id: int) -> HttpResponse:
    workspace, can_edit = campaign_workspace(request, ws_id)
    template = template_in(request, workspace, template_id)
    context = _context(
        workspace, can_edit, template=template, versions=queries.versions_of(template),
        campaigns=queries.campaigns_using(template)[:50],
    )  # fmt: skip
    return render(request, "front/campaigns/template_versions.html", context)


@require_POST
@member_view
def template_delete(request: HttpRequest, ws_id: int, template_id: int) -> HttpResponse:
    workspace, _can_edit = campaign_workspace(request, ws_id)
    template = template_in(request, workspace, template_id)
    refuse_viewers(request, workspace)
    try:
        delete_template(template)
    except Conflict as exc:
        messages.error(request, conflict_text(exc))
        return redirect("ws-template", workspace.pk, template.pk)
    messages.success(request, _("The template is deleted."))
    return redirect("ws-templates", workspace.pk)


urlpatterns: list[URLPattern] = [
    path("workspaces/<int:ws_id>/templates/", template_list, name="ws-templates"),
    path("workspaces/<int:ws_id>/templates/new/", template_new, name="ws-template-new"),
    path("workspaces/<int:ws_id>/templates/preview/", template_preview, name="ws-template-preview"),
    path("workspaces/<int:ws_id>/templates/<int:template_id>/", template_edit, name="ws-template"),
    path(
        "workspaces/<int:ws_id>/templates/<int:template_id>/versions/", template_versions, name="ws-template-versions"
    ),
    path("workspaces/<int:ws_id>/templates/<int:template_id>/delete/", template_delete, name="ws-template-delete"),
]
