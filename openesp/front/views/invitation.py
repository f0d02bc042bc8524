"""The page an invitation link opens: who invites you to what; accept or decline."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from openesp.accounts import actions
from openesp.accounts.models import Invitation, InvitationStatus
from openesp.front.helpers import the_user
from openesp.lib.errors import InvalidInput


def _lookup(token: str) -> Invitation:
    try:
        return actions.invitation_by_token(token)
    except InvalidInput:
        raise Http404("invitation not found") from None


def invitation(request: HttpRequest, token: str) -> HttpResponse:
    invitation = _lookup(token)
    error = ""
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "decline":
                actions.decline_invitation(token)
                messages.success(request, _("You have declined the invitation."))
                return redirect("invitation", token)
            if action == "accept":
                if not request.user.is_authenticated:
                    return redirect(f"{reverse('login')}?{urlencode({'next': request.path})}")
                membership = actions.accept_invitation(the_user(request), token)
                messages.success(request, _("Welcome to %(name)s!") % {"name": membership.organization.name})
                return redirect("org-workspaces", membership.organization_id)
        except InvalidInput as exc:
            error = "; ".join(str(p.reason) for p in exc.problems)
        invitation.refresh_from_db()
    user = request.user if request.user.is_authenticated else None
    query = urlencode({"next": request.path})
    return render(
        request,
        "front/invitation.html",
        {
            "invitation": invitation,
            "token": token,
            "open": invitation.effective_status == InvitationStatus.PENDING,
            "wrong_user": user is not None and user.email.lower() != invitation.email.lower(),
            "login_url": f"{reverse('login')}?{query}",
            "signup_url": f"{reverse('signup')}?{urlencode({'email': invitation.email, 'next': request.path})}",
            "error": error,
        },
        status=400 if error else 200,
    )
