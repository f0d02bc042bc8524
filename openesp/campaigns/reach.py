"""Campaign recipients as the API and the pages list them."""

from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery

from openesp.campaigns.models import Campaign, CampaignMessage, Purpose, Recipient


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
