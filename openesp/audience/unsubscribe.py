"""One-click unsubscribe (RFC 2369 ``List-Unsubscribe``, RFC 8058 ``List-Unsubscribe-Post``).

The message builder adds both headers to every mail a recipient may opt out of (see
``UNSUBSCRIBE_CATEGORIES``) that belongs to a workspace. The link carries a token that names the
workspace and the address and is verified by its HMAC alone, without the database: a
``lib.signing`` link over ``"<workspace id>:<address, lower-case>"`` with the purpose
``unsubscribe``. Tokens never expire: a link in a mail from years ago must still work. Changing
``SECRET_KEY`` invalidates every link sent. The address is encoded, not encrypted: the token is
opaque to the recipient, not secret from anyone who reads it (it is in their own mail; the page
sends no Referer).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from openesp.accounts.models import Workspace
from openesp.audience.actions import normalise_email
from openesp.audience.consent import Consent, record_consent
from openesp.audience.models import ConsentAction, ConsentSource, Contact, ContactStatus, SuppressionReason
from openesp.audience.suppressions import suppress
from openesp.lib import signing
from openesp.lib.errors import InvalidInput
from openesp.messaging.models import Category, Message

PURPOSE = "unsubscribe"
# The ledger's and the suppression's source for an RFC 8058 POST from a mailbox provider.
ONE_CLICK = ConsentSource.ONE_CLICK.value
# ... and for the button on the confirmation page.
PAGE = "unsubscribe-page"
# Mail a recipient may opt out of. System mail (password resets, confirmations), transactional
# mail and the platform's organization and workspace invitations carry no unsubscribe link.
UNSUBSCRIBE_CATEGORIES = frozenset(
    {
        Category.INVITATION,
        Category.INVITATION_AUTOMATION,
        Category.REMINDER,
        Category.REMINDER_SCHEDULED,
        Category.RESPONSE_RECEIPT,
        Category.CATEGORY_MESSAGE,
    }
)
ONE_CLICK_VALUE = "List-Unsubscribe=One-Click"


class InvalidToken(ValueError):
    """The token was not made by us (tampered with, truncated, or signed with another key)."""


@dataclass(frozen=True)
class Target:
    """Whom a token unsubscribes: an address in a workspace."""

    workspace_id: int
    email: str


def signed_address(email: str) -> str:
    """The address as an unsubscribe link names it: two spellings of one address, one link."""
    return email.strip().lower()


def make_token(workspace_id: int, email: str) -> str:
    return signing.sign(f"{workspace_id}:{signed_address(email)}", PURPOSE)


def verify_token(token: str) -> Target:
    """The target of a token we made; InvalidToken for anything else."""
    try:
        link = signing.read(token, min_payload=4, max_payload=1400)
    except signing.BadLink as exc:
        raise InvalidToken(str(exc)) from None
    if not link.valid(PURPOSE):
        raise InvalidToken("bad signature")
    workspace, _sep, email = link.text.partition(":")
    if not (workspace.isascii() and workspace.isdigit()) or "@" not in email:
        raise InvalidToken("unexpected token content")
    return Target(int(workspace), email)


def unsubscribe_url(workspace_id: int, email: str) -> str:
    return settings.OPENESP_BASE_URL + signing.link_path("unsubscribe", make_token(workspace_id, email))


def unsubscribe_headers(message: Message, *, url: str = "") -> list[tuple[str, str]]:
    """The message's own headers plus, where it gets them, ``List-Unsubscribe`` and
    ``List-Unsubscribe-Post`` (replacing any the caller set: ours is the link we honour).
    ``url``: ``unsubscribe_url`` of the message's workspace and address, when the caller has
    made it already (a campaign message's template context holds it)."""
    headers = list(message.headers.items())
    if message.category not in UNSUBSCRIBE_CATEGORIES or message.workspace_id is None:
        return headers
    ours = {"list-unsubscribe", "list-unsubscribe-post"}
    headers = [(name, value) for name, value in headers if name.lower() not in ours]
    url = url or unsubscribe_url(message.workspace_id, message.to_email)
    headers.append(("List-Unsubscribe", f"<{url}>"))
    headers.append(("List-Unsubscribe-Post", ONE_CLICK_VALUE))
    return headers


@transaction.atomic
def unsubscribe_address(target: Target, *, source: str = ONE_CLICK, ip: str | None = None) -> bool:
    """Suppress the address in its workspace and mark its contact unsubscribed, with a consent
    record. Idempotent: True when something changed, False when it was done already (or the
    workspace no longer exists, so nothing can be sent to the address from it anyway)."""
    workspace = Workspace.objects.filter(pk=target.workspace_id).first()
    if workspace is None:
        return False
    try:
        _address, key = normalise_email(target.email)
    except InvalidInput:  # an address that was valid when sent and is not now: suppress it as is
        key = target.email
    detail = "List-Unsubscribe-Post" if source == ONE_CLICK else "confirmation page"
    # The contact's row lock serialises concurrent POSTs for the same address.
    contact = Contact.objects.select_for_update().filter(workspace=workspace, email_key=key).first()
    consent = Consent(source=source if source == ONE_CLICK else ConsentSource.FORM, detail=detail, ip=ip)
    return stop_all_mail(workspace, key, contact, source=source, detail=detail, consent=consent)


def stop_all_mail(
    workspace: Workspace,
    email_key: str,
    contact: Contact | None,
    *,
    source: str,
    detail: str,
    consent: Consent,
    changed: bool = False,
) -> bool:
    """ "Unsubscribe from everything", once for the unsubscribe link and the preference page: a
    workspace suppression of the address (reason ``unsubscribe``, with its audit row), its contact
    (if any, locked by the caller) ``unsubscribed`` unless bounced or complained, and one
    ``unsubscribe`` ledger row when this or the caller's own part (``changed``) changed anything.
    True when something changed."""
    _suppression, added = suppress(
        workspace, email_key, SuppressionReason.UNSUBSCRIBE, source=source, detail=detail, check="lenient"
    )
    changed = changed or added
    if contact is not None:
        if contact.status == ContactStatus.ACTIVE:
            contact.status = ContactStatus.UNSUBSCRIBED
            contact.updated_at = timezone.now()
            contact.save(update_fields=["status", "updated_at"])
            changed = True
        if changed:
            record_consent(contact, ConsentAction.UNSUBSCRIBE, None, consent)
    return changed
