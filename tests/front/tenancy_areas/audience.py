"""Outsider rows for the contact, list and suppression pages (``openesp/front/views/{contacts,lists,suppressions}.py``).

Pages that name another workspace's contact or list under the caller's own workspace id are
covered in ``tests/front/test_audience_tenancy.py``.
"""

from __future__ import annotations

from typing import Any

from openesp.accounts.models import Organization, User, Workspace
from openesp.audience import actions, suppressions

BOTH = ("get", "post")
POST = ("post",)
GET = ("get",)
TABLE = {
    "ws-contacts": (["ws"], GET),
    "ws-contact-new": (["ws"], BOTH),
    "ws-contacts-export": (["ws"], GET),
    "ws-contact": (["ws", "audience_contact"], BOTH),
    "ws-contact-subscription": (["ws", "audience_contact"], POST),
    "ws-contact-export": (["ws", "audience_contact"], GET),
    "ws-contact-erase": (["ws", "audience_contact"], BOTH),
    "ws-lists": (["ws"], BOTH),
    "ws-list": (["ws", "audience_list"], BOTH),
    "ws-list-subscribe": (["ws", "audience_list"], POST),
    "ws-list-delete": (["ws", "audience_list"], BOTH),
    "ws-suppressions": (["ws"], BOTH),
    "ws-suppression-remove": (["ws"], BOTH),
}


def make(alice: User, org: Organization, workspace: Workspace) -> dict[str, Any]:
    newsletter = actions.create_list(workspace, "Newsletter")
    contact = actions.create_contact(workspace, "ann@example.com", name="Ann", lists=[newsletter])
    suppressions.add_suppression(workspace, "gone@example.com", actor=alice)
    return {"audience_contact": contact.pk, "audience_list": newsletter.pk}
