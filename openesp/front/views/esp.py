"""Choosing the e-mail provider, for a personal account ("Email status") and for an
organization ("Settings → Email provider"): one flow, two owners.

The seed's flow: the current provider is shown; clicking it leads to the choice between
SendGrid, Mailjet and a custom provider; the custom form has *Test connection* and *Save*.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from openesp.accounts.access import membership_for, organizations_for
from openesp.accounts.models import Membership, Organization, User
from openesp.esp import actions as esp_actions
from openesp.esp import bouncemailbox
from openesp.esp.access import organization_config, personal_config
from openesp.esp.actions import EspInput
from openesp.esp.effective import effective_provider
from openesp.esp.failover import current_failover, fallback_choices
from openesp.esp.models import EspConfig, EspKind
from openesp.front import display
from openesp.front.forms import BounceMailboxForm, CustomSmtpForm
from openesp.front.helpers import add_problems, forbidden, member_view, post_flag, the_user
from openesp.lib import secretbox
from openesp.lib.errors import InvalidInput


@dataclass
class Scope:
    """Whose provider choice a page shows: the user's own, or an organization's."""

    user: User
    membership: Membership | None = None

    @property
    def organization(self) -> Organization | None:
        return self.membership.organization if self.membership is not None else None

    @property
    def can_edit(self) -> bool:
        return self.membership is None or self.membership.is_manager

    @property
    def config(self) -> EspConfig | None:
        if self.membership is None:
            return personal_config(self.user)
        return organization_config(self.membership.organization)

    def url(self, name: str) -> str:
        if self.membership is None:
            return reverse("email-status" if name == "status" else f"email-{name}")
        org_id = self.membership.organization_id
        return reverse("org-settings" if name == "status" else f"org-email-{name}", args=[org_id])

    @property
    def urls(self) -> dict[str, str]:
        names = ["status", "choose", "custom", "test", "remove", "fallback", "bounce-mailbox"]
        if self.membership is not None:
            names.append("enforce")
        return {name.replace("-", "_"): self.url(name) for name in names}

    def save(self, data: EspInput) -> EspConfig:
        if self.membership is None:
            return esp_actions.save_personal_config(self.user, data)
        return esp_actions.save_organization_config(self.user, self.membership.organization_id, data)

    def clear(self) -> None:
        if self.membership is None:
            esp_actions.clear_personal_config(self.user)
        else:
            esp_actions.clear_organization_config(self.user, self.membership.organization_id)


def _scope(request: HttpRequest, org_id: int | None) -> Scope:
    user = the_user(request)
    if org_id is None:
        return Scope(user)
    return Scope(user, membership_for(user, org_id))


def _base_context(scope: Scope) -> dict[str, Any]:
    config = scope.config
    return {
        "scope": scope,
        "organization": scope.organization,
        "membership": scope.membership,
        "can_edit": scope.can_edit,
        "config": config,
        "config_view": display.describe_config(config),
        "urls": scope.urls,
        "categories": display.MAIL_CATEGORIES,
        "providers": display.provider_cards(config.kind if config else None),
        "egress_ips": display.egress_ips(),
        "fallback_choices": fallback_choices(),
        "failover": current_failover(config),
        "section": "organization" if scope.organization is not None else "account",
    }


def _result_context(result: Any) -> dict[str, Any]:
    return {"test_result": result, "test_step": display.step_label(result.step)}


def status_context(scope: Scope) -> dict[str, Any]:
    """The status page: what is effective, why, and the owner's own choice."""
    context = _base_context(scope)
    if scope.organization is None:
        effective = effective_provider(scope.user)
        context["effective"] = effective
        context["effective_view"] = display.describe_effective(effective)
        rows: list[dict[str, Any]] = [
            {"organization": org, "effective": eff, "view": display.describe_effective(eff)}
            for org in organizations_for(scope.user)
            for eff in [effective_provider(scope.user, org)]
        ]
        context["in_organizations"] = rows
        # An organization that enforces its provider decides for all mail sent in it: say so up front.
        context["enforced_by"] = [
            row
            for row in rows
            if row["effective"].owner == "organization"
            and row["effective"].config is not None
            and row["effective"].config.enforced
        ]
    else:
        # For the organization: what its members get when they send in it, seen from the viewer.
        effective = effective_provider(scope.user, scope.organization)
        context["effective"] = effective
        context["effective_view"] = display.describe_effective(effective)
    return context


@member_view
def email_status(request: HttpRequest) -> HttpResponse:
    scope = _scope(request, None)
    return render(request, "front/email_status.html", status_context(scope))


def _choose(request: HttpRequest, org_id: int | None) -> HttpResponse:
    scope = _scope(request, org_id)
    context = _base_context(scope)
    if request.method == "POST":
        if not scope.can_edit:
            return forbidden(request)
        kind = request.POST.get("kind", "")
        if kind == EspKind.SMTP:
            return redirect(scope.url("custom"))
        try:
            scope.save(EspInput(kind=kind))
        except InvalidInput as exc:
            context["errors"] = [str(p.reason) for p in exc.problems]
        else:
            messages.success(request, _("Mail is now sent with %(provider)s.") % {"provider": _title_of(kind)})
            return redirect(scope.url("status"))
    return render(request, "front/email_choose.html", context, status=400 if "errors" in context else 200)


def _title_of(kind: str) -> str:
    view = display.describe_config(EspConfig(kind=kind))
    return view.title if view else kind


@member_view
def email_choose(request: HttpRequest) -> HttpResponse:
    return _choose(request, None)


@member_view
def org_email_choose(request: HttpRequest, org_id: int) -> HttpResponse:
    return _choose(request, org_id)


# A password typed for *Test connection* is kept for the save that follows, so a failed test
# does not empty it; it is never rendered back into the page (docs/security.md): it waits in
# the server-side session, encrypted like a stored one, until saved, or until the page is
# opened afresh.
_KEPT = "esp-kept-password:{}"


def _keep_password(request: HttpRequest, org_id: int | None, typed: str, *, testing: bool) -> str:
    """The typed password (kept when it is typed for a test), else the one kept from a test on
    this form ("" if none)."""
    key = _KEPT.format(org_id or "personal")
    if typed:
        if testing:
            request.session[key] = secretbox.encrypt(typed)
        return typed
    kept = request.session.get(key)
    return secretbox.decrypt(kept) if kept else ""


def _forget_password(request: HttpRequest, org_id: int | None) -> None:
    request.session.pop(_KEPT.format(org_id or "personal"), None)


def _form_input(form: CustomSmtpForm, password: str = "") -> EspInput:
    data = form.cleaned_data
    return EspInput.from_mapping(
        {
            "kind": EspKind.SMTP,
            "host": data["host"],
            "port": data["port"],
            "security": data["security"],
            "from_email": data["from_email"],
            "username": data["username"],
            # An empty field keeps the stored password: it is never sent to the browser to edit.
            "password": password or data["password"] or None,
        }
    )


def _custom(request: HttpRequest, org_id: int | None) -> HttpResponse:
    scope = _scope(request, org_id)
    context = _base_context(scope)
    config = context["config"]
    existing = config if config is not None and config.kind == EspKind.SMTP else None
    status = 200
    if request.method == "POST":
        if not scope.can_edit:
            return forbidden(request)
        form = CustomSmtpForm(request.POST)
        if form.is_valid():
            testing = request.POST.get("action") == "test"
            password = _keep_password(request, org_id, form.cleaned_data["password"], testing=testing)
            context["password_kept"] = _KEPT.format(org_id or "personal") in request.session
            data = _form_input(form, password)
            try:
                if testing:
                    from openesp.esp.testconn import test_config  # the SMTP client stack loads on use

                    # Validate here first so that problems land next to their fields.
                    esp_actions.validate(data, existing)
                    result = test_config(data, to_email=scope.user.email, existing=existing)
                    context.update(_result_context(result))
                else:
                    scope.save(data)
                    _forget_password(request, org_id)
                    messages.success(request, _("Your custom email provider has been saved."))
                    return redirect(scope.url("status"))
            except InvalidInput as exc:
                add_problems(form, exc)
        if form.errors:
            status = 400
    else:
        _forget_password(request, org_id)
        initial = {}
        if existing is not None:
            initial = {
                "host": existing.host,
                "port": existing.port or "",
                "security": existing.security,
                "from_email": existing.from_email,
                "username": existing.username,
            }
        form = CustomSmtpForm(initial=initial)
    context.update({"form": form, "existing": existing})
    return render(request, "front/email_custom.html", context, status=status)


@member_view
def email_custom(request: HttpRequest) -> HttpResponse:
    return _custom(request, None)


@member_view
def org_email_custom(request: HttpRequest, org_id: int) -> HttpResponse:
    return _custom(request, org_id)


def _test_saved(request: HttpRequest, org_id: int | None, template: str) -> HttpResponse:
    scope = _scope(request, org_id)
    if not scope.can_edit:
        return forbidden(request)
    config = scope.config
    if config is None:
        return redirect(scope.url("status"))
    from openesp.esp.testconn import test_saved_config

    result = test_saved_config(config, to_email=scope.user.email)
    context = status_context(scope)
    context.update(_result_context(result))
    if org_id is not None:
        context.update(org_settings_extra(request, scope))
    return render(request, template, context)


@require_POST
@member_view
def email_test(request: HttpRequest) -> HttpResponse:
    return _test_saved(request, None, "front/email_status.html")


@require_POST
@member_view
def org_email_test(request: HttpRequest, org_id: int) -> HttpResponse:
    return _test_saved(request, org_id, "front/org_settings.html")


@require_POST
@member_view
def email_remove(request: HttpRequest) -> HttpResponse:
    _scope(request, None).clear()
    messages.success(request, _("Your personal setting has been removed."))
    return redirect("email-status")


@require_POST
@member_view
def org_email_remove(request: HttpRequest, org_id: int) -> HttpResponse:
    scope = _scope(request, org_id)
    scope.clear()
    messages.success(request, _("The organization's email provider has been removed."))
    return redirect(scope.url("status"))


@require_POST
@member_view
def org_email_enforce(request: HttpRequest, org_id: int) -> HttpResponse:
    scope = _scope(request, org_id)
    enforced = post_flag(request, "enforced")
    try:
        esp_actions.set_organization_enforced(scope.user, org_id, enforced)
    except InvalidInput as exc:
        messages.error(request, "; ".join(str(p.reason) for p in exc.problems))
    else:
        if enforced:
            messages.success(request, _("The organization's email provider is now used for all members."))
        else:
            messages.success(request, _("Members' personal settings apply again."))
    return redirect(scope.url("status"))


def _fallback(request: HttpRequest, org_id: int | None) -> HttpResponse:
    scope = _scope(request, org_id)
    if not scope.can_edit:
        return forbidden(request)
    fallback = request.POST.get("fallback", "")
    try:
        esp_actions.set_fallback(scope.user, fallback, org_id)
    except InvalidInput as exc:
        messages.error(request, "; ".join(str(p.reason) for p in exc.problems))
    else:
        if fallback:
            messages.success(request, _("The fallback provider has been saved."))
        else:
            messages.success(request, _("The fallback provider has been removed."))
    return redirect(scope.url("status"))


@require_POST
@member_view
def email_fallback(request: HttpRequest) -> HttpResponse:
    return _fallback(request, None)


@require_POST
@member_view
def org_email_fallback(request: HttpRequest, org_id: int) -> HttpResponse:
    return _fallback(request, org_id)


def _bounce_mailbox(request: HttpRequest, org_id: int | None) -> HttpResponse:
    """The bounce mailbox of the custom SMTP server: save, test (connect, log in, open the
    folder; nothing saved) or remove. Only for a custom SMTP server."""
    scope = _scope(request, org_id)
    context = _base_context(scope)
    config = context["config"]
    if config is None or config.kind != EspKind.SMTP:
        messages.info(request, _("A bounce mailbox belongs to a custom SMTP server: choose one first."))
        return redirect(scope.url("status"))
    status = 200
    if request.method == "POST":
        if not scope.can_edit:
            return forbidden(request)
        action = request.POST.get("action", "save")
        if action == "remove":
            bouncemailbox.clear_bounce_mailbox(scope.user, config)
            messages.success(request, _("The bounce mailbox has been removed."))
            return redirect(scope.url("bounce-mailbox"))
        form = BounceMailboxForm(request.POST)
        if form.is_valid():
            data = form.to_input()
            try:
                if action == "test":
                    bouncemailbox.clean_mailbox(data, config)  # problems land next to their fields
                    result = bouncemailbox.test_bounce_mailbox(config, data, tester_email=scope.user.email)
                    context.update(_result_context(result))
                else:
                    bouncemailbox.save_bounce_mailbox(scope.user, config, data)
                    messages.success(request, _("The bounce mailbox has been saved."))
                    return redirect(scope.url("bounce-mailbox"))
            except InvalidInput as exc:
                add_problems(form, exc)
        if form.errors:
            status = 400
    else:
        form = BounceMailboxForm(
            initial={
                "enabled": config.imap_enabled if config.has_bounce_mailbox else True,
                "host": config.imap_host,
                "port": config.imap_port or "",
                "security": config.imap_security or "tls",
                "username": config.imap_username,
                "folder": config.imap_folder or "INBOX",
            }
        )
    context.update({"form": form, "existing": config})
    return render(request, "front/email_bounce_mailbox.html", context, status=status)


@member_view
def email_bounce_mailbox(request: HttpRequest) -> HttpResponse:
    return _bounce_mailbox(request, None)


@member_view
def org_email_bounce_mailbox(request: HttpRequest, org_id: int) -> HttpResponse:
    return _bounce_mailbox(request, org_id)


def org_settings_extra(request: HttpRequest, scope: Scope) -> dict[str, Any]:
    assert scope.organization is not None
    return {"rename_value": scope.organization.name, "tab": "settings"}


@member_view
def org_settings(request: HttpRequest, org_id: int) -> HttpResponse:
    from openesp.accounts import actions as account_actions

    scope = _scope(request, org_id)
    rename_error = ""
    if request.method == "POST":
        name = request.POST.get("name", "")
        try:
            account_actions.rename_organization(scope.user, org_id, name)
        except InvalidInput as exc:
            rename_error = "; ".join(str(p.reason) for p in exc.problems)
        else:
            messages.success(request, _("The organization has been renamed."))
            return redirect(scope.url("status"))
    context = status_context(scope)
    context.update(org_settings_extra(request, scope))
    context["rename_error"] = rename_error
    if rename_error:
        context["rename_value"] = request.POST.get("name", "")
    return render(request, "front/org_settings.html", context, status=400 if rename_error else 200)
