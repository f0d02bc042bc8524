"""Double opt-in: the confirmation mail of a pending subscription and its link.

``actions.subscribe`` calls ``send_confirmation`` whenever a subscription becomes pending, in
its own transaction, so the mail exists exactly when the pending subscription does. The mail is
a ``system`` message of the workspace (routed through its organization's effective provider),
in the contact's language.

The link carries ``django.core.signing`` data (HMAC-SHA256 keyed by ``SECRET_KEY``, with its own
salt) naming the subscription and a keyed fingerprint of the address, stamped with the time it
was made: it expires after ``OPENESP_DOUBLE_OPT_IN_DAYS`` days (default 7), and it stops working
when the contact's address changes or the contact is erased. How one click confirms while a link
scanner's prefetch cannot: docs/decisions/005-double-opt-in-confirmation.md.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from openesp.accounts import limits
from openesp.audience.consent import Consent, email_hash, record_consent
from openesp.audience.models import (
    ConsentAction,
    ConsentSource,
    Subscription,
    SubscriptionStatus,
    Suppression,
    SuppressionReason,
)
from openesp.messaging.actions import enqueue_message
from openesp.messaging.models import Category, Message

SALT = "openesp.double-opt-in"
# Resending is bounded per subscription: not again within OPENESP_MAIL_REQUEST_INTERVAL, and at
# most OPENESP_MAIL_REQUESTS_PER_DAY mails in 24 hours, automatic ones included (toggling a list
# on the preference page, or an API client resubscribing in a loop, must not flood a mailbox).
# A re-send is also bounded per address, whoever asks (accounts.limits, key
# mail:confirm_subscription:<address>): many workspaces or lists cannot add up to a flood.
RESEND_PURPOSE = "confirm_subscription"


def resend_interval() -> timedelta:
    return timedelta(seconds=settings.OPENESP_MAIL_REQUEST_INTERVAL)


def max_per_day() -> int:
    return int(settings.OPENESP_MAIL_REQUESTS_PER_DAY)


# Addresses that must not be mailed at all, not even a confirmation: mailing them hurts the
# sender's reputation, and a complaint means the person does not want our mail.
_NEVER_MAIL = (SuppressionReason.HARD_BOUNCE, SuppressionReason.COMPLAINT, SuppressionReason.MANUAL)
METADATA_KEY = "double_opt_in_subscription"


def lifetime() -> timedelta:
    return timedelta(days=settings.OPENESP_DOUBLE_OPT_IN_DAYS)


class InvalidConfirmation(ValueError):
    """The link was not made by us, names nothing any more, or has expired (``expired``)."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        self.expired = expired
        super().__init__(message)


class TooSoon(Exception):
    """A confirmation mail went out too recently; ``retry_after`` seconds until the next may."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"a confirmation mail was sent recently; try again in {retry_after} seconds")


class NotPending(Exception):
    """The subscription is not waiting for a confirmation."""


class Outcome(enum.StrEnum):
    CONFIRMED = "confirmed"  # this request confirmed it
    ALREADY = "already"  # it had been confirmed before (or never needed to be)
    UNSUBSCRIBED = "unsubscribed"  # it was cancelled before the link was followed


@dataclass(frozen=True)
class Confirmation:
    subscription: Subscription
    outcome: Outcome


def _fingerprint(subscription: Subscription) -> str:
    contact = subscription.contact
    return email_hash(contact.workspace_id, contact.email_key)[:16]


def make_token(subscription: Subscription) -> str:
    return signing.dumps({"s": subscription.pk, "f": _fingerprint(subscription)}, salt=SALT)


def confirmation_url(subscription: Subscription) -> str:
    return settings.OPENESP_BASE_URL + reverse("confirm-subscription", args=[make_token(subscription)])


def subscription_for_token(token: str) -> Subscription:
    """The subscription a link names; InvalidConfirmation when it is tampered with, expired,
    or names a subscription (or address) that is gone."""
    try:
        data = signing.loads(token, salt=SALT, max_age=lifetime())
    except signing.SignatureExpired:
        raise InvalidConfirmation("the link has expired", expired=True) from None
    except signing.BadSignature:
        raise InvalidConfirmation("the link is not valid") from None
    if not isinstance(data, dict) or not isinstance(data.get("s"), int):
        raise InvalidConfirmation("the link is not valid")
    subscription = (
        Subscription.objects.select_related("contact", "contact_list", "contact_list__workspace")
        .filter(pk=data["s"])
        .first()
    )
    if subscription is None or data.get("f") != _fingerprint(subscription):
        raise InvalidConfirmation("the link is not valid")
    return subscription


def mail_language(tag: str) -> str:
    """The language of our own catalogue closest to a contact's tag (``sv-SE`` → ``sv``), or English."""
    primary = tag.split("-")[0].lower()
    return primary if primary in dict(settings.LANGUAGES) else "en"


def _recent(subscription: Subscription) -> list[Message]:
    since = timezone.now() - timedelta(days=1)
    return list(
        Message.objects.filter(
            workspace_id=subscription.contact.workspace_id,
            category=Category.SYSTEM,
            created_at__gte=since,
            **{f"metadata__{METADATA_KEY}": str(subscription.pk)},
        ).order_by("-created_at")
    )


def _wait(subscription: Subscription) -> int:
    """Seconds until another confirmation mail may go out for this subscription (0: now)."""
    recent = _recent(subscription)
    now = timezone.now()
    waits = [0]
    if recent:
        waits.append(int((recent[0].created_at + resend_interval() - now).total_seconds()) + 1)
    if len(recent) >= max_per_day():
        waits.append(int((recent[max_per_day() - 1].created_at + timedelta(days=1) - now).total_seconds()) + 1)
    return max(waits)


def _never_mail(subscription: Subscription) -> bool:
    contact = subscription.contact
    in_scope = Q(workspace_id=contact.workspace_id) | Q(workspace__isnull=True)
    return Suppression.objects.filter(in_scope, email=contact.email_key, reason__in=_NEVER_MAIL).exists()


def _queue(subscription: Subscription) -> Message:
    contact = subscription.contact
    contact_list = subscription.contact_list
    workspace = contact_list.workspace
    context = {
        "contact": contact,
        "list_name": contact_list.name,
        "sender": workspace.organization.name,
        "url": confirmation_url(subscription),
        "days": lifetime().days,
    }
    with translation.override(mail_language(contact.language)):
        subject = " ".join(render_to_string("mail/confirm_subscription_subject.txt", context).split())
        body = render_to_string("mail/confirm_subscription.txt", context)
    return enqueue_message(
        category=Category.SYSTEM,
        to_email=contact.email,
        to_name=contact.name,
        subject=subject,
        text_body=body,
        from_name=workspace.organization.name,
        # No user: the mail goes out on behalf of the organization, through its provider.
        workspace=workspace,
        metadata={METADATA_KEY: str(subscription.pk)},
    )


@transaction.atomic
def send_confirmation(subscription: Subscription) -> Message | None:
    """Queue the confirmation mail of a subscription that has just become pending, in the
    caller's transaction. None (and no mail) when the address must not be mailed or the bound
    on confirmation mails is reached: the subscription stays pending either way."""
    if subscription.status != SubscriptionStatus.PENDING or _never_mail(subscription):
        return None
    if _wait(subscription) > 0:
        return None
    return _queue(subscription)


@transaction.atomic
def resend_confirmation(subscription: Subscription) -> Message:
    """Queue the confirmation mail again. NotPending, or TooSoon when the bound is reached."""
    locked = Subscription.objects.select_for_update().select_related("contact", "contact_list__workspace")
    subscription = locked.get(pk=subscription.pk)
    if subscription.status != SubscriptionStatus.PENDING:
        raise NotPending(f"the subscription is {subscription.status}, not pending")
    if _never_mail(subscription):
        raise NotPending("the address is suppressed (bounce, complaint or manual): no mail is sent to it")
    wait = _wait(subscription)
    if wait > 0:
        raise TooSoon(wait)
    wait_for_address = limits.mail_request(RESEND_PURPOSE, subscription.contact.email)
    if wait_for_address:
        raise TooSoon(max(1, int(-(-wait_for_address // 1))))
    return _queue(subscription)


@transaction.atomic
def confirm(subscription: Subscription, consent: Consent) -> Subscription:
    """A pending subscription confirmed (the double opt-in link was followed)."""
    if subscription.status != SubscriptionStatus.PENDING:
        return subscription
    now = timezone.now()
    subscription.status = SubscriptionStatus.SUBSCRIBED
    subscription.confirmed_at = subscription.updated_at = now
    subscription.save()
    record_consent(subscription.contact, ConsentAction.CONFIRM, subscription.contact_list, consent)
    return subscription


@transaction.atomic
def confirm_by_token(token: str, *, ip: str | None = None) -> Confirmation:
    """Confirm the subscription a link names. Idempotent: a second click changes nothing."""
    subscription = subscription_for_token(token)
    subscription = (
        Subscription.objects.select_for_update().select_related("contact", "contact_list").get(pk=subscription.pk)
    )
    if subscription.status == SubscriptionStatus.SUBSCRIBED:
        return Confirmation(subscription, Outcome.ALREADY)
    if subscription.status == SubscriptionStatus.UNSUBSCRIBED:
        return Confirmation(subscription, Outcome.UNSUBSCRIBED)
    consent = Consent(source=ConsentSource.DOUBLE_OPT_IN, detail="confirmation link", ip=ip)
    return Confirmation(confirm(subscription, consent), Outcome.CONFIRMED)
