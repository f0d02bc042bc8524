"""Tenant look-ups of campaign objects: the same ``Http404`` for missing and foreign ones.

Thin functions over a queryset of the caller's workspaces, to be rebased onto the shared
``accounts.access`` helper (``Actor``, ``access_by_id``) when it lands.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model, QuerySet
from django.http import Http404

from openesp.accounts.access import workspaces_for
from openesp.accounts.models import User
from openesp.campaigns.models import Campaign, Template, TemplateVersion


def _by_id[M: Model](queryset: QuerySet[M], object_id: Any, what: str) -> M:
    try:
        return queryset.get(pk=int(object_id))
    except (ObjectDoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404(f"{what} not found") from None


def templates_for(user: User) -> QuerySet[Template]:
    return Template.objects.filter(workspace__in=workspaces_for(user).values("id"))


def campaigns_for(user: User) -> QuerySet[Campaign]:
    return Campaign.objects.filter(workspace__in=workspaces_for(user).values("id"))


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
