"""Campaign objects as an ``Actor`` reaches them (the API's callers, workspace keys included).

``campaigns.access`` answers for a user; a workspace API key acts as its user but only inside the
organization of its workspace, so an object beyond it must answer the same 404 as a missing one.
These wrappers add that confinement, and the look-ups of ids given in a request's body, which are
input rather than an address: one the workspace does not have is an ``InvalidInput`` naming the
field (a 422), not a 404.
"""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404

from openesp.accounts.access import Actor
from openesp.accounts.models import Workspace
from openesp.campaigns.access import access_campaign, access_template, access_template_version, campaigns_for
from openesp.campaigns.models import Campaign, CampaignMessage, Purpose, Recipient, Template, TemplateVersion
from openesp.lib.errors import InvalidInput


def _confined(actor: Actor, workspace: Workspace, what: str) -> None:
    try:
        actor.reach(workspace.organization_id)
    except Http404:
        raise Http404(f"{what} not found") from None


def template_of(actor: Actor, template_id: object) -> Template:
    """A template the actor reaches; Http404 alike for missing and foreign ones."""
    template = access_template(actor.user, template_id)
    _confined(actor, template.workspace, "template")
    return template


def campaign_of(actor: Actor, campaign_id: object) -> Campaign:
    """A campaign the actor reaches; Http404 alike for missing and foreign ones."""
    campaign = access_campaign(actor.user, campaign_id)
    _confined(actor, campaign.workspace, "campaign")
    return campaign


def campaigns_in(actor: Actor, workspace: Workspace) -> QuerySet[Campaign]:
    """The campaigns of a workspace the actor has reached, newest first."""
    return campaigns_for(actor.user).filter(workspace=workspace).order_by("-id")


def version_named(
    actor: Actor,
    template_id: object,
    number: int | None,
    *,
    workspace: Workspace,
    field: str,
    version_field: str,
) -> TemplateVersion:
    """The version ``number`` (None: the latest) of a template of ``workspace`` named in a body;
    InvalidInput naming ``field`` (or ``version_field``) when there is none."""
    try:
        template = template_of(actor, template_id)
    except Http404:
        raise InvalidInput.one(field, "the workspace has no template with this id") from None
    if template.workspace_id != workspace.pk:
        raise InvalidInput.one(field, "the workspace has no template with this id")
    try:
        return access_template_version(actor.user, template.pk, number)
    except Http404:
        raise InvalidInput.one(version_field, f"template {template.pk} has no version {number}") from None


def recipients_of(campaign: Campaign, responded: bool | None = None) -> QuerySet[Recipient]:
    """The campaign's recipients (a campaign the caller has reached), each with
    ``invitation_status``: the status of its invitation message (None before it is queued)."""
    # One level of subquery: an OuterRef inside a subquery of a subquery would name the middle
    # query's row (the message), not the recipient.
    invitation = CampaignMessage.objects.filter(recipient=OuterRef("pk"), purpose=Purpose.INVITATION)
    status = invitation.values("message__status")[:1]
    recipients = Recipient.objects.filter(campaign=campaign)
    if responded is not None:
        recipients = recipients.filter(responded_at__isnull=not responded)
    return recipients.annotate(invitation_status=Subquery(status))
