"""The dashboard and the account page (name, language, verification)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _

from openesp.accounts.access import memberships_of, organizations_for, pending_invitations_to, workspaces_for
from openesp.front.dashboard import next_steps, workspace_numbers
from openesp.front.forms import ProfileForm
from openesp.front.helpers import member_view, the_user
from openesp.front.mailnote import can_send


@member_view
def home(request: HttpRequest) -> HttpResponse:
    user = the_user(request)
    memberships = memberships_of(user)
    invitations = pending_invitations_to(user)
    workspaces = list(workspaces_for(user).select_related("organization"))
    numbers = workspace_numbers(user, workspaces)
    return render(
        request,
        "front/home.html",
        {
            "memberships": memberships,
            "workspaces": workspaces,
            "numbers": numbers,
            "more_workspaces": workspaces[len(numbers) :],
            "steps": next_steps(user, memberships.exists(), numbers),
            "invitations": invitations,
            "verification_waits": not user.email_verified and not can_send(user),
            "section": "home",
        },
    )


@member_view
def account(request: HttpRequest) -> HttpResponse:
    user = the_user(request)
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            user.name = " ".join(form.cleaned_data["name"].split())
            user.language = form.cleaned_data["language"]
            user.save(update_fields=["name", "language"])
            if user.language:
                translation.activate(user.language)
            messages.success(request, _("Your account has been saved."))
            return redirect("account")
    else:
        form = ProfileForm(initial={"name": user.name, "language": user.language})
    return render(
        request,
        "front/account.html",
        {"form": form, "organizations": organizations_for(user), "section": "account", "tab": "profile"},
    )
