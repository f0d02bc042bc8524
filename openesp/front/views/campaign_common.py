"""What the template and campaign pages share: the page's workspace, its template or campaign
through the access layer, the refusal for viewers, and the actions' conflicts in the page's
language.

A template or campaign comes through ``campaigns.access`` (the same 404 for missing and foreign
ones) and must also belong to the workspace the URL names: one of another workspace, even one the
caller reaches there, is missing here too.
"""

from __future__ import annotations

import re

from django.http import Http404, HttpRequest
from django.utils.translation import gettext_lazy

from openesp.accounts.access import access_workspace, can_edit, require_editor
from openesp.accounts.models import Workspace
from openesp.campaigns.access import access_campaign, access_template
from openesp.campaigns.errors import Conflict
from openesp.campaigns.models import Campaign, CampaignStatus, Template
from openesp.front.helpers import CAMPAIGN_REFUSAL, the_actor, the_user
from openesp.front.views.audience_common import page_context

__all__ = ["campaign_in", "campaign_workspace", "conflict_text", "page_context", "refuse_viewers", "template_in"]


def campaign_workspace(request: HttpRequest, ws_id: int) -> tuple[Workspace, bool]:
    """The page's workspace, and whether the caller may change its campaigns (viewers may not)."""
    actor = the_actor(request)
    workspace = access_workspace(actor, ws_id)
    return workspace, can_edit(actor, workspace)


def refuse_viewers(request: HttpRequest, workspace: Workspace) -> None:
    require_editor(the_actor(request), workspace, CAMPAIGN_REFUSAL)


def template_in(request: HttpRequest, workspace: Workspace, template_id: int) -> Template:
    template = access_template(the_user(request), template_id)
    if template.workspace_id != workspace.pk:
        raise Http404("template not found")
    return template


def campaign_in(request: HttpRequest, workspace: Workspace, campaign_id: int) -> Campaign:
    campaign = access_campaign(the_user(request), campaign_id)
    if campaign.workspace_id != workspace.pk:
        raise Http404("campaign not found")
    return campaign


_VERBS = {
    "scheduled": gettext_lazy("A %(status)s campaign cannot be scheduled."),
    "paused": gettext_lazy("A %(status)s campaign cannot be paused."),
    "resumed": gettext_lazy("A %(status)s campaign cannot be resumed."),
    "cancelled": gettext_lazy("A %(status)s campaign cannot be cancelled."),
    "reminded": gettext_lazy("A %(status)s campaign cannot be reminded."),
}
_FIXED = {
    "the campaign has not started: there is nobody to remind yet": gettext_lazy(
        "The campaign has not started: there is nobody to remind yet."
    ),
    "the template is used by a campaign and cannot be deleted": gettext_lazy(
        "The template is used by a campaign and cannot be deleted."
    ),
}
_TRANSITION = re.compile(r"^a (\w+) campaign cannot be (\w+)$")


def conflict_text(exc: Conflict) -> str:
    """The conflict as a sentence in the page's language (the API keeps the English one)."""
    text = str(exc)
    if text in _FIXED:
        return str(_FIXED[text])
    match = _TRANSITION.match(text)
    if match and match.group(2) in _VERBS:
        status = dict(CampaignStatus.choices).get(match.group(1), match.group(1))
        return str(_VERBS[match.group(2)]) % {"status": str(status).lower()}
    return text
