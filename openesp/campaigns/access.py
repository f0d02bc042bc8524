"""Tenant look-ups of campaign objects, for a user (the pages) or an ``Actor`` (the API: a
workspace key acts as its user, confined to its workspace's organization).

Built on ``accounts.access.access_by_id``: the same ``Http404`` for a missing id, one beyond
what the database holds, and an object the caller cannot reach, so a guess learns nothing. Ids
named in a request's body are input rather than an address: one the workspace does not have is
``InvalidInput`` naming the field (a 422), not a 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from openesp.accounts.access import Actor, access_by_id, as_actor, as_pk
from openesp.accounts.models import User, Workspace
from openesp.campaigns.models import (
    Automation,
    Campaign,
    CampaignKind,
    CategoryMessage,
    Template,
    TemplateVersion,
)
from openesp.lib.errors import InvalidInput

NO_TEMPLATE = "the workspace has no template with this id"
NO_VERSION = "the template has no such version"


def templates_for(actor: Actor | User) -> QuerySet[Template]:
    return Template.objects.filter(workspace__in=as_actor(actor).workspaces().values("id"))


def campaigns_for(actor: Actor | User) -> QuerySet[Campaign]:
    # The containers of automations and category messages are reached through those alone.
    workspaces = as_actor(actor).workspaces().values("id")
    return Campaign.objects.filter(workspace__in=workspaces, kind=CampaignKind.CAMPAIGN)


def campaigns_in(actor: Actor | User, workspace: Workspace) -> QuerySet[Campaign]:
    """The campaigns of a workspace the caller has reached, newest first."""
    return campaigns_for(actor).filter(workspace=workspace).order_by("-id")


def access_template(actor: Actor | User, template_id: Any, *, workspace: Workspace | None = None) -> Template:
    queryset = Template.objects.select_related("workspace__organization")
    return access_by_id(actor, queryset, template_id, "template", workspace=workspace)


def _version(template: Template, number: Any) -> TemplateVersion | None:
    """The template's version ``number`` (None: its latest), or None when it has none such."""
    if number is None:
        return template.latest_version()
    pk = as_pk(number)  # version numbers start at 1 and fit where ids fit
    versions = TemplateVersion.objects.filter(template=template).select_related("template__workspace")
    return None if pk is None else versions.filter(number=pk).first()


def access_template_version(actor: Actor | User, template_id: Any, number: Any) -> TemplateVersion:
    """A version of a template the caller reaches; ``number`` None: its latest."""
    version = _version(access_template(actor, template_id), number)
    if version is None:
        raise Http404("template version not found")
    return version


def access_campaign(actor: Actor | User, campaign_id: Any) -> Campaign:
    queryset = Campaign.objects.filter(kind=CampaignKind.CAMPAIGN).select_related("workspace__organization")
    return access_by_id(actor, queryset, campaign_id, "campaign")


def access_automation(actor: Actor | User, automation_id: Any, *, workspace: Workspace | None = None) -> Automation:
    queryset = Automation.objects.select_related(
        "workspace__organization", "campaign__template_version__template", "trigger_list", "reminder_version__template"
    )
    return access_by_id(actor, queryset, automation_id, "automation", workspace=workspace)


def access_category_message(
    actor: Actor | User, message_id: Any, *, workspace: Workspace | None = None
) -> CategoryMessage:
    queryset = CategoryMessage.objects.select_related("workspace__organization", "campaign__template_version__template")
    return access_by_id(actor, queryset, message_id, "category message", workspace=workspace)


def template_version_named(
    actor: Actor | User,
    template_id: Any,
    number: Any = None,
    *,
    workspace: Workspace,
    field: str = "template_id",
    version_field: str | None = None,
) -> TemplateVersion:
    """A template version named in a request's body: the template's latest (``number`` None) or
    the numbered one, of ``workspace`` (which the caller has reached). InvalidInput naming
    ``field`` when the workspace has no such template, ``version_field`` (default: ``field`` with
    ``_version`` for ``_id``) when the template has no such version."""
    try:
        template = access_template(actor, template_id, workspace=workspace)
    except Http404:
        raise InvalidInput.one(field, NO_TEMPLATE) from None
    version = _version(template, number)
    if version is None:
        raise InvalidInput.one(version_field or field.replace("_id", "_version"), NO_VERSION)
    return version
