"""Read helpers of the campaign pages: the rows of a workspace (or of a campaign) the caller has
already reached through ``campaigns.access`` / ``accounts.access``.

The pages never query a campaign model themselves (``tests/test_access_layer.py``): they reach
the workspace or the object first, then ask here for what belongs to it.
"""

from __future__ import annotations

from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery

from openesp.accounts.models import Workspace
from openesp.campaigns import reach
from openesp.campaigns.models import (
    Campaign,
    Recipient,
    Reminder,
    Template,
    TemplateVersion,
)


def templates_of(workspace: Workspace) -> QuerySet[Template]:
    """The workspace's templates by name, each with ``latest`` (its newest version number)."""
    return Template.objects.filter(workspace=workspace).annotate(latest=Max("versions__number")).order_by("name", "id")


def versions_of(template: Template) -> QuerySet[TemplateVersion]:
    """A template's versions, newest first, with who saved them."""
    return template.versions.select_related("created_by").order_by("-number")


def campaigns_using(template: Template) -> QuerySet[Campaign]:
    """The campaigns that pin one of the template's versions (as invitation or receipt)."""
    versions = TemplateVersion.objects.filter(template=template).values("id")
    pinned = Q(template_version__in=versions) | Q(receipt_version__in=versions)
    return Campaign.objects.filter(pinned, workspace_id=template.workspace_id).order_by("-created_at", "-id")


def campaigns_of(workspace: Workspace) -> QuerySet[Campaign]:
    """The workspace's campaigns, newest first, each with ``responded`` (how many recipients did)."""
    responded = (
        Recipient.objects.filter(campaign=OuterRef("pk"), responded_at__isnull=False)
        .order_by()
        .values("campaign")
        .annotate(n=Count("id"))
        .values("n")
    )
    return (
        Campaign.objects.filter(workspace=workspace)
        .select_related("template_version__template")
        .annotate(responded=Subquery(responded))
        .order_by("-created_at", "-id")
    )


def reminders_of(campaign: Campaign) -> QuerySet[Reminder]:
    return Reminder.objects.filter(campaign=campaign).select_related("version__template").order_by("-created_at", "-id")


def recipients_of(campaign: Campaign, responded: bool | None = None) -> QuerySet[Recipient]:
    """The campaign's recipients in the order of their contacts (the unique (campaign, contact)
    index serves a page of a million-recipient campaign without sorting it), each with
    ``invitation_status``; ``responded`` True or False narrows to those who did or did not."""
    return reach.recipients_of(campaign, responded).order_by("contact_id", "id")
