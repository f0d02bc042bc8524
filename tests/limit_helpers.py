"""For tests about something else that ask for the same limited mail twice in a row."""

from __future__ import annotations

from openesp.accounts.limits import mail_key
from openesp.lib.ratelimit import lift


def interval_passed(purpose: str, address: str) -> None:
    """As if ``OPENESP_MAIL_REQUEST_INTERVAL`` had passed since the last ``purpose`` mail to ``address``."""
    lift(mail_key(purpose, address))
