"""The API keys page: personal and workspace keys made, listed and revoked by their owner.

The same actions as ``/api/v1/api-keys`` and ``openesp apikey`` (``accounts.apikeys``). A new key
is shown once, on the page that answers the POST (not after a redirect, so it never sits in the
session), with ``Cache-Control: no-store`` so the browser keeps no copy.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from openesp.accounts import apikeys
from openesp.accounts.access import workspaces_for
from openesp.accounts.models import SCOPES, User
from openesp.front.helpers import add_problems, member_view, the_user
from openesp.lib.errors import InvalidInput

SCOPE_LABELS = {
    "account": gettext_lazy("account — your keys and personal settings (personal keys only)"),
    "esp": gettext_lazy("esp — email provider settings"),
    "organizations": gettext_lazy("organizations — organizations, workspaces, members"),
    "messages.send": gettext_lazy("messages.send — send mail"),
    "messages.read": gettext_lazy("messages.read — read the message log"),
    "contacts": gettext_lazy("contacts — contacts, lists, segments, imports, suppressions"),
    "stats": gettext_lazy("stats — delivery and engagement statistics"),
    "webhooks": gettext_lazy("webhooks — endpoints that receive your message events"),
}


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100, required=False)
    workspace = forms.TypedChoiceField(
        label=gettext_lazy("Reach"),
        coerce=int,
        empty_value=None,
        required=False,
        help_text=gettext_lazy(
            "A personal key acts as you, everywhere you can act; "
            "a workspace key stays inside its workspace's organization."
        ),
    )
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("Scopes"),
        widget=forms.CheckboxSelectMultiple,
        choices=[(s, SCOPE_LABELS.get(s, s)) for s in SCOPES],
        required=False,
    )

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices: list[tuple[str | int, str]] = [("", _("Personal key"))]
        choices += [(ws.pk, f"{ws.name} · {ws.organization.name}") for ws in workspaces_for(user)]
        field = self.fields["workspace"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = choices


def _page(
    request: HttpRequest, form: ApiKeyForm, new: tuple[Any, str] | None = None, status: int = 200
) -> HttpResponse:
    user = the_user(request)
    response = render(
        request,
        "front/keys/list.html",
        {
            "form": form,
            "keys": apikeys.api_keys_for(user),
            "new_key": new[0] if new else None,
            "new_secret": new[1] if new else "",
            "me_url": request.build_absolute_uri("/api/v1/me"),
            "section": "account",
            "tab": "api-keys",
        },
        status=status,
    )
    add_never_cache_headers(response)
    return response


@member_view
def api_keys(request: HttpRequest) -> HttpResponse:
    user = the_user(request)
    if request.method != "POST":
        return _page(request, ApiKeyForm(user, initial={"scopes": list(apikeys.WORKSPACE_SCOPES)}))
    form = ApiKeyForm(user, request.POST)
    if form.is_valid():
        try:
            row, secret = apikeys.create_api_key(
                user,
                workspace=form.cleaned_data["workspace"],
                scopes=form.cleaned_data["scopes"],
                name=form.cleaned_data["name"],
            )
        except InvalidInput as exc:
            add_problems(form, exc)
        else:
            return _page(request, ApiKeyForm(user, initial={"scopes": list(apikeys.WORKSPACE_SCOPES)}), (row, secret))
    return _page(request, form, status=400)


@require_POST
@member_view
def api_key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    key = apikeys.revoke_api_key(the_user(request), key_id)
    messages.success(request, _("The API key %(prefix)s… has been revoked.") % {"prefix": f"oe_{key.prefix}"})
    return redirect("api-keys")
