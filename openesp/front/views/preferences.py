"""Categories of a workspace, and the public pages a recipient reaches from a mail:
the double opt-in confirmation and the preference centre (token links, no login)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from openesp.accounts.models import Workspace
from openesp.audience import categories, doubleoptin, preferences, queries
from openesp.audience.access import access_category
from openesp.audience.doubleoptin import InvalidConfirmation, Outcome, mail_language
from openesp.audience.models import Contact
from openesp.front.helpers import add_problems, member_view, the_actor
from openesp.front.views.audience_common import audience_workspace, page_context, refuse_viewers
from openesp.lib.errors import InvalidInput

# --- the categories of a workspace (signed in) -------------------------------------------------


class CategoryForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=categories.MAX_DESCRIPTION,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Shown to recipients on the preference page."),
    )


def _context(workspace: Workspace, can_edit: bool, **extra: Any) -> dict[str, Any]:
    return page_context(workspace, can_edit, "categories", **extra)


@require_http_methods(["GET", "POST"])
@member_view
def category_list(request: HttpRequest, ws_id: int) -> HttpResponse:
    workspace, can_edit = audience_workspace(request, ws_id)
    form = CategoryForm(request.POST or None)
    if request.method == "POST":
        refuse_viewers(request, workspace)
        if form.is_valid():
            try:
                categories.create_category(
                    workspace, form.cleaned_data["name"], description=form.cleaned_data["description"]
                )
            except InvalidInput as exc:
                add_problems(form, exc)
            else:
                return redirect("ws-categories", workspace.pk)
    context = _context(workspace, can_edit, form=form, categories=queries.categories_with_counts(workspace))
    return render(request, "front/preferences/categories.html", context)


@require_http_methods(["GET", "POST"])
@member_view
def category_detail(request: HttpRequest, ws_id: int, category_id: int) -> HttpResponse:
    workspace, can_edit = audience_workspace(request, ws_id)
    topic = access_category(the_actor(request), category_id, workspace=workspace)
    form = CategoryForm(request.POST or None, initial={"name": topic.name, "description": topic.description})
    if request.method == "POST":
        refuse_viewers(request, workspace)
        if form.is_valid():
            try:
                categories.update_category(
                    topic, name=form.cleaned_data["name"], description=form.cleaned_data["description"]
                )
            except InvalidInput as exc:
                add_problems(form, exc)
            else:
                return redirect("ws-categories", workspace.pk)
    context = _context(workspace, can_edit, form=form, category=topic, subscribers=topic.subscriptions.count())
    return render(request, "front/preferences/category.html", context)


@require_POST
@member_view
def category_delete(request: HttpRequest, ws_id: int, category_id: int) -> HttpResponse:
    workspace, _can_edit = audience_workspace(request, ws_id)
    topic = access_category(the_actor(request), category_id, workspace=workspace)
    refuse_viewers(request, workspace)
    categories.delete_category(topic)
    return redirect("ws-categories", workspace.pk)


# --- public pages: no login; the token in the link is the credential --------------------------


def _private(response: HttpResponse, *, referrer: str = "no-referrer") -> HttpResponse:
    response["Referrer-Policy"] = referrer  # the token in the URL acts for the contact
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _page_language(request: HttpRequest, contact: Contact) -> str:
    """The contact's language when it has one we speak; else the browser's."""
    if contact.language:
        return mail_language(contact.language)
    return translation.get_language_from_request(request)


@csrf_exempt  # the token is the credential; a page of ours submits it (see decision 005)
@require_http_methods(["GET", "HEAD", "POST"])
def confirm_subscription(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a page whose script submits the POST at once (a button if scripts are off);
    only the POST confirms, so a link scanner's prefetch confirms nothing."""
    try:
        subscription = doubleoptin.subscription_for_token(token)
    except InvalidConfirmation as exc:
        status = 410 if exc.expired else 404
        context: dict[str, Any] = {"expired": exc.expired, "days": doubleoptin.lifetime().days}
        return _private(render(request, "front/preferences/confirm_invalid.html", context, status=status))
    with translation.override(_page_language(request, subscription.contact)):
        if request.method == "POST":
            result = doubleoptin.confirm_by_token(token, ip=_client_ip(request))
            context = {"subscription": result.subscription, "outcome": result.outcome}
            return _private(render(request, "front/preferences/confirmed.html", context))
        if subscription.status != "pending":
            outcome = Outcome.ALREADY if subscription.status == "subscribed" else Outcome.UNSUBSCRIBED
            context = {"subscription": subscription, "outcome": outcome}
            return _private(render(request, "front/preferences/confirmed.html", context))
        return _private(render(request, "front/preferences/confirm.html", {"subscription": subscription}))


def _done(token: str, what: str) -> HttpResponse:
    """Back to the page after a change (so that reloading it does not post again)."""
    return _private(redirect(reverse("preferences", args=[token]) + f"?done={what}"), referrer="same-origin")


@require_http_methods(["GET", "HEAD", "POST"])
def preference_page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        contact = preferences.contact_for_token(token)
    except preferences.InvalidToken:
        raise Http404("preference link not found") from None
    problems: InvalidInput | None = None
    if request.method == "POST":
        ip = _client_ip(request)
        if request.POST.get("action") == "unsubscribe-all":
            preferences.unsubscribe_from_everything(contact, ip=ip)
            return _done(token, "unsubscribed")
        try:
            preferences.save_preferences(
                contact,
                lists=request.POST.getlist("lists"),
                categories=request.POST.getlist("categories"),
                language=request.POST.get("language", contact.language),
                ip=ip,
            )
        except InvalidInput as exc:
            problems = exc
        else:
            return _done(token, "saved")
        contact.refresh_from_db()
    with translation.override(_page_language(request, contact)):
        context = {
            "contact": contact,
            "sender": contact.workspace.organization.name,
            "lists": preferences.list_choices(contact),
            "categories": preferences.category_choices(contact),
            "languages": [("", _("Same as my browser")), ("en", "English"), ("sv", "Svenska")],
            "unsubscribed": preferences.unsubscribed_from_everything(contact),
            "done": request.GET.get("done", ""),
            "problems": problems.as_dict() if problems else {},
        }
        response = render(request, "front/preferences/page.html", context, status=422 if problems else 200)
    # "same-origin", not "no-referrer": with no referrer at all, browsers send "Origin: null" with
    # the form's POST and Django's CSRF check refuses it. Other sites still get nothing.
    return _private(response, referrer="same-origin")


urlpatterns: list[URLPattern] = [
    path("workspaces/<int:ws_id>/categories/", category_list, name="ws-categories"),
    path("workspaces/<int:ws_id>/categories/<int:category_id>/", category_detail, name="ws-category"),
    path("workspaces/<int:ws_id>/categories/<int:category_id>/delete/", category_delete, name="ws-category-delete"),
    # Public token links: the double opt-in confirmation and the preference centre.
    path("c/<str:token>/", confirm_subscription, name="confirm-subscription"),
    path("p/<str:token>/", preference_page, name="preferences"),
]
