"""Small pieces every front view shares: the signed-in user, role refusals, field errors."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, cast

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from openesp.accounts.access import Actor, NotAllowed
from openesp.accounts.models import User
from openesp.audience.access import AUDIENCE_REFUSAL
from openesp.lib.errors import InvalidInput

P = ParamSpec("P")
View = Callable[Concatenate[HttpRequest, P], HttpResponse]


def the_user(request: HttpRequest) -> User:
    """The signed-in user (views that call this are behind ``member_view``)."""
    return cast(User, request.user)


def the_actor(request: HttpRequest) -> Actor:
    """The signed-in user as the access layer's actor: the web UI is never confined to one
    organization (only workspace API keys are)."""
    return Actor(the_user(request))


def forbidden(request: HttpRequest, message: str | None = None) -> HttpResponse:
    text = message or _("Only an owner or an admin of the organization may do this.")
    return render(request, "403.html", {"message": text}, status=403)


def member_view[**P](view: View[P]) -> View[P]:
    """Signed in only; a role that may look but not change gets a clear 403 page.

    An outsider never reaches this point with data: the lookups in ``openesp.accounts.access``
    raise Http404 for missing and foreign objects alike.
    """

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotAllowed as exc:
            return forbidden(request, _translate_refusal(str(exc)))

    return cast(View[P], login_required(wrapped))


# Why a viewer cannot change the templates and campaigns of a workspace (``require_editor``).
CAMPAIGN_REFUSAL = "viewers cannot change the templates and campaigns of this workspace"

_REFUSALS = {
    "only an owner or an admin of the organization may do this": _(
        "Only an owner or an admin of the organization may do this."
    ),
    "only an owner may delete the organization": _("Only an owner may delete the organization."),
    "only an owner may make or unmake owners": _("Only an owner may make or unmake owners."),
    "only an owner may remove an owner": _("Only an owner may remove an owner."),
    "only an owner may invite an owner": _("Only an owner may invite an owner."),
    AUDIENCE_REFUSAL: _("Viewers can look at the audience of this workspace but not change it."),
    CAMPAIGN_REFUSAL: _("Viewers can look at the templates and campaigns of this workspace but not change them."),
}


def _translate_refusal(text: str) -> str:
    return str(_REFUSALS.get(text, text))


def add_problems(form: forms.Form, error: InvalidInput, fields: dict[str, str] | None = None) -> None:
    """Put each problem next to the field it names; the rest above the form.

    ``fields`` maps an action's field name to the form's where they differ.
    """
    for problem in error.problems:
        name = (fields or {}).get(problem.field, problem.field)
        target = name if name in form.fields else None
        form.add_error(target, str(problem.reason))


def post_flag(request: HttpRequest, name: str) -> bool:
    return request.POST.get(name) in {"on", "true", "1", "yes"}


def int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
