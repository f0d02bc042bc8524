"""What a page says after it queued mail: sent on its way, or waiting because no provider can
carry it (issue 10: the UI must not say "sent" while the mail sits in the queue).

The provider is the one delivery will use (``esp.effective.effective_provider`` for the sender
and organization of the mail), so the page and the worker cannot disagree. When there is none,
the note says where to set one up; platform mail (verification, invitations) also waits in the
operator's Outbox, where a superuser reads its links.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from openesp.accounts.access import membership_for
from openesp.accounts.models import MANAGER_ROLES, Organization, User
from openesp.esp.effective import effective_provider


def can_send(user: User | None, organization: Organization | None = None) -> bool:
    """Whether some provider carries mail sent by ``user`` (in ``organization``) now."""
    return effective_provider(user, organization).kind != "none"


def _setup_url(viewer: User, organization: Organization | None) -> str | None:
    """Where the viewer can set up the provider this mail needs; None if they cannot."""
    if organization is None:
        return reverse("email-status")
    try:
        manages = membership_for(viewer, organization.pk).role in MANAGER_ROLES
    except Http404:
        manages = False
    return reverse("org-settings", args=[organization.pk]) if manages else None


def waiting_note(viewer: User, what: str, organization: Organization | None, *, platform: bool) -> SafeString:
    """'<what> is queued — … has no email provider yet: set one up.', with the link."""
    url = _setup_url(viewer, organization)
    link = format_html('<a href="{}" data-testid="setup-provider">{}</a>', url, _("set one up")) if url else None
    if organization is None:
        text = _("{what} is queued — you have no email provider yet, so nothing goes out: {link}.")
    elif link is not None:
        text = _("{what} is queued — your organization has no email provider yet, so nothing goes out: {link}.")
    else:
        text = _("{what} is queued — your organization has no email provider yet: ask an admin of it to set one up.")
    note = format_html(text, what=what, link=link or "")
    if platform:
        if viewer.is_superuser:
            outbox = format_html('<a href="{}">{}</a>', reverse("outbox"), _("Outbox"))
            note = format_html("{} {}", note, format_html(_("You can read it in the {outbox}."), outbox=outbox))
        else:
            note = format_html("{} {}", note, _("The server's operator can read it in the Outbox."))
    return note


def report_queued(
    request: HttpRequest,
    viewer: User,
    *,
    sent: str,
    queued: str,
    sender: User | None,
    organization: Organization | None = None,
    platform: bool = True,
) -> None:
    """Flash ``sent`` when a provider carries the mail of ``sender`` (None: the organization's
    own mail) in ``organization``, else the waiting note about ``queued``."""
    if can_send(sender, organization):
        messages.success(request, sent)
    else:
        messages.warning(request, waiting_note(viewer, queued, organization, platform=platform))
