"""What the audience pages (contacts, lists, suppressions, categories, imports, segments) share:
the workspace of the page and whether the caller may change it, the refusal for viewers, the
consent the UI records, and the actions' reasons in the page's language.

The workspace comes through the access layer (``accounts.access``) and every object of it
through ``audience.access`` with that workspace, so an outsider, a member without the workspace,
a foreign id and a missing one all get the same 404, also for an object of another workspace
named under one's own workspace. Viewers see everything and change nothing: the buttons are
hidden and a POST gets the 403 page.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _

from openesp.accounts.access import access_workspace, can_edit, require_editor
from openesp.accounts.models import User, Workspace
from openesp.audience.access import AUDIENCE_REFUSAL
from openesp.audience.consent import Consent
from openesp.audience.models import ConsentSource
from openesp.front.helpers import the_actor
from openesp.lib.errors import FieldProblem, InvalidInput


def audience_workspace(request: HttpRequest, ws_id: int) -> tuple[Workspace, bool]:
    """The page's workspace, and whether the caller may change its audience (viewers may not)."""
    actor = the_actor(request)
    workspace = access_workspace(actor, ws_id)
    return workspace, can_edit(actor, workspace)


def refuse_viewers(request: HttpRequest, workspace: Workspace) -> None:
    """NotAllowed (the 403 page, translated by ``member_view``) for a viewer."""
    require_editor(the_actor(request), workspace, AUDIENCE_REFUSAL)


def page_context(workspace: Workspace, can_change: bool, section: str = "audience", **extra: Any) -> dict[str, Any]:
    return {
        "workspace": workspace,
        "organization": workspace.organization,
        "can_edit": can_change,
        "section": section,
        **extra,
    }


def ui_consent(user: User) -> Consent:
    """Changes made in the web UI are the workspace's people acting, recorded as ``admin``."""
    return Consent(source=ConsentSource.ADMIN, detail=f"web UI, {user.email}"[:200], actor=user)


def translated(exc: InvalidInput) -> InvalidInput:
    """The actions' reasons in the page's language, where the catalogue has them (the API keeps
    them in English; a reason with a value in it, such as email-validator's, may stay English)."""
    return InvalidInput([FieldProblem(p.field, _(str(p.reason))) for p in exc.problems])


def problems_text(exc: InvalidInput) -> str:
    return "; ".join(f"{p.field}: {p.reason}" for p in translated(exc).problems)
