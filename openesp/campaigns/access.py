"""Tenant look-ups of campaign objects: the same ``Http404`` for missing and foreign ones.

Thin functions over a queryset of the caller's workspaces, to be rebased onto the shared
``accounts.access`` helper (``Actor``, ``access_by_id``) when it lands.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model, QuerySet
from django.http import Http404

from openesp.accounts.access import Actor, access_by_id, workspaces_for
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


def _by_id[M: Model](queryset: QuerySet[M], object_id: Any, what: str) -> M:
    try:
        return queryset.get(pk=int(object_id))
    except (ObjectDoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404(f"{what} not found") from None


def templates_for(user: User) -> QuerySet[Template]:
    return Template.objects.filter(workspace__in=workspaces_for(user).values("id"))


def campaigns_for(user: User) -> QuerySet[Campaign]:
    # The containers of automations and category messages are reached through those alone.
    return Campaign.objects.filter(workspace__in=workspaces_for(user).values("id"), kind=CampaignKind.CAMPAIGN)


def access_template(user: User, template_id: Any) -> Template:
    return _by_id(templates_for(user).select_related("workspace__organization"), template_id, "template")


def access_template_version(user: User, template_id: Any, number: Any) -> TemplateVersion:
    """A version of a template the caller reaches; ``number`` None: its latest."""
    template = access_template(user, template_id)
    if number is None:
        return template.latest_version()
    versions = TemplateVersion.objects.filter(template=template).select_related("template__workspace")
    try:
        return versions.get(number=int(number))
    except (TemplateVersion.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("template version not found") from None


def access_campaign(user: User, campaign_id: Any) -> Campaign:
    return _by_id(campaigns_for(user).select_related("workspace__organization"), campaign_id, "campaign")


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
    actor: Actor | User, template_id: Any, number: Any = None, *, workspace: Workspace, field: str = "template_id"
) -> TemplateVersion:
    """A template version named in a request's body: the template's latest (``number`` None) or
    the numbered one, of ``workspace`` (which the caller has reached). Ids in a body are input:
    one the workspace does not have is ``InvalidInput`` naming ``field`` (a 422), not a 404."""
    try:
        template = access_by_id(actor, Template.objects.select_related("workspace"), template_id, "template",
                                workspace=workspace)  # fmt: skip
    except Http404:
        raise InvalidInput.one(field, "the workspace has no template with this id") from None
    if number is None:
        version = template.latest_version()
    else:
        version = TemplateVersion.objects.filter(template=template, number=number).first()  # type: ignore[assignment]
    if version is None:
        raise InvalidInput.one(field.replace("_id", "_version"), "the template has no such version")
    return version
