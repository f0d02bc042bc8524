"""The abuse limits of the public doors: log-in, sign-up, mail anyone can ask for, API keys.

Each limit is a row of the database rate limiter (``openesp/lib/ratelimit.py``), so it holds
across every process of an installation, and its key says what it counts:

- ``login:<account>:<client>``: failed log-ins for one account (as typed, known or not) from one
  client address; ``OPENESP_LOGIN_FAILURES`` within ``OPENESP_LOGIN_FAILURE_WINDOW`` block that
  pair for a delay that doubles with each block. Only the pair: the owner logging in from
  elsewhere is never locked out by an attacker. The owner gets one notice mail a day at most
  (``notice:login:<user id>``).
- ``mail:<purpose>:<address>``: mail that anyone can make openesp send to an address (password
  reset, verification, invitations, double opt-in re-sends), whoever asks: one per
  ``OPENESP_MAIL_REQUEST_INTERVAL`` and ``OPENESP_MAIL_REQUESTS_PER_DAY`` a day.
- ``signup:<client>``: ``OPENESP_SIGNUPS_PER_HOUR`` accounts per client address and hour.
- ``api-key:<client>``: ``OPENESP_API_KEY_FAILURES_PER_MINUTE`` failed API-key authentications
  per client address and minute; then 429 for that address alone.

A client is its address (``lib.clientaddr``), an IPv6 client its /64. ``openesp limits``
lists the keys blocked now with the reason, and lifts a block.
"""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from openesp.accounts import outbox
from openesp.accounts.models import User
from openesp.lib.clientaddr import limit_address
from openesp.lib.ratelimit import Limits, Penalty, acquire, blocked_for, lift, record_failure

log = logging.getLogger(__name__)

LOGIN = "login:"
MAIL = "mail:"
SIGNUP = "signup:"
API_KEY = "api-key:"
NOTICE = "notice:"
PREFIXES = (LOGIN, MAIL, SIGNUP, API_KEY, NOTICE)
DAY = 86400.0


def _key(prefix: str, *parts: str) -> str:
    key = prefix + ":".join(parts)
    if len(key) <= 255:
        return key
    # Longer than the column: what callers typed is hashed (the reason still names it in full).
    return prefix + hashlib.sha256(":".join(parts).encode()).hexdigest()


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds < 3600 else f"{seconds / 3600:g} h"


# --- log-in ---------------------------------------------------------------------------------


def _login_key(username: str, client: str) -> str:
    return _key(LOGIN, username.strip().lower(), limit_address(client))


def login_blocked(username: str, client: str) -> float:
    """Seconds until this account may be tried again from this client (0: now)."""
    return blocked_for(_login_key(username, client))


def login_failed(username: str, client: str) -> float:
    """A wrong password (or an unknown account) from this client: count it; the block it imposes."""
    penalty = Penalty(
        failures=settings.OPENESP_LOGIN_FAILURES,
        window=settings.OPENESP_LOGIN_FAILURE_WINDOW,
        first_block=settings.OPENESP_LOGIN_BLOCK,
        longest_block=settings.OPENESP_LOGIN_BLOCK_MAX,
    )
    reason = (
        f"{penalty.failures} or more failed log-ins for {username.strip().lower()} from "
        f"{client} within {_minutes(penalty.window)}"
    )
    block = record_failure(_login_key(username, client), penalty, reason=reason)
    if block:
        log.warning("log-in blocked for %.0f s: %s", block, reason)
        _tell_the_owner(username, client)
    return block


def login_succeeded(username: str, client: str) -> None:
    """The right password from this client: its failures for this account are forgotten."""
    lift(_login_key(username, client))


def _tell_the_owner(username: str, client: str) -> None:
    """One mail a day at most to the account's owner, in their language, naming the client."""
    user = User.objects.filter(email__iexact=username.strip(), is_active=True).first()
    if user is None:
        return
    once_a_day = Limits(per_second=1 / DAY)
    if not acquire(_key(NOTICE, "login", str(user.pk)), 1, once_a_day).granted:
        return
    context = {"user": user, "client": client, "url": settings.OPENESP_BASE_URL + reverse("password-reset")}
    with translation.override(user.language or settings.LANGUAGE_CODE):
        subject = " ".join(render_to_string("mail/login_failures_subject.txt", context).split())
        body = render_to_string("mail/login_failures.txt", context)
    outbox.queue_mail(
        category=outbox.SYSTEM,
        to_email=user.email,
        subject=subject,
        text_body=body,
        user=user,
        metadata={outbox.PURPOSE_KEY: outbox.LOGIN_FAILURES, "user_id": str(user.pk)},
    )


# --- mail anyone can ask for ------------------------------------------------------------------


def mail_key(purpose: str, address: str) -> str:
    return _key(MAIL, purpose, address.strip().lower())


def mail_request(purpose: str, address: str) -> float:
    """May another ``purpose`` mail go to ``address`` now? 0 if so (and it is counted), else the
    seconds until one may. Callers that answer the public answer as if it had been sent."""
    interval = settings.OPENESP_MAIL_REQUEST_INTERVAL
    per_day = settings.OPENESP_MAIL_REQUESTS_PER_DAY
    limits = Limits(per_second=1 / interval, window_count=per_day, window_seconds=DAY)
    address = address.strip().lower()
    reason = f"{purpose} mail to {address}: at most one per {_minutes(interval)} and {per_day} a day"
    grant = acquire(mail_key(purpose, address), 1, limits, reason=reason)
    if not grant.granted:
        log.info("%s mail to %s not sent: %s", purpose, address, "limit reached")
    return grant.retry_after


# --- sign-up and API keys -----------------------------------------------------------------------


def signup(client: str) -> float:
    """Count a sign-up from this client; 0 if it may go ahead, else the seconds to wait."""
    per_hour = settings.OPENESP_SIGNUPS_PER_HOUR
    reason = f"more than {per_hour} sign-ups from {client} within an hour"
    limits = Limits(window_count=per_hour, window_seconds=3600)
    return acquire(_key(SIGNUP, limit_address(client)), 1, limits, reason=reason).retry_after


def _api_key(client: str) -> str:
    return _key(API_KEY, limit_address(client))


def api_key_blocked(client: str) -> float:
    return blocked_for(_api_key(client))


def api_key_failed(client: str) -> float:
    """A wrong API key from this client: count it; seconds the client must now wait (0: none)."""
    per_minute = settings.OPENESP_API_KEY_FAILURES_PER_MINUTE
    reason = f"more than {per_minute} failed API-key authentications from {client} within a minute"
    limits = Limits(window_count=per_minute, window_seconds=60)
    return acquire(_api_key(client), 1, limits, reason=reason).retry_after
