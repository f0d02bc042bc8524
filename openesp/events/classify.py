"""What a bounce means for the address: hard (suppress now), soft (suppress after a few), or a
problem of the sender (policy, reputation, content: the recipient is not at fault).

RFC 3463: the class digit says permanent (5) or temporary (4); the subject 7 is security or
policy — "5.7.1 message refused as spam", "5.7.26 DMARC" — which a different sender would not
get, so such a bounce is noted on the provider configuration instead of suppressing anyone.
"""

from __future__ import annotations

HARD, SOFT, SENDER = "hard", "soft", "sender"
# Mailjet says what a bounce is about instead of giving a status.
_SENDER_CAUSES = frozenset({"spam", "content", "mailjet", "system"})


def classify(enhanced_status: str, hint: str = "", cause: str = "") -> str:
    """``hint``: the provider's own "hard"/"soft"; ``cause``: Mailjet's ``error_related_to``."""
    if enhanced_status.startswith("5.7.") or cause in _SENDER_CAUSES:
        return SENDER
    if enhanced_status.startswith("5."):
        return HARD
    if enhanced_status.startswith("4."):
        return SOFT
    return hint if hint in (HARD, SOFT) else HARD
