"""Helpers of the campaign sending tests: an audience with exclusions, and what a sink received.

Each mail the sink received is read back as a ``Delivered``: the address, the message id, the
category (from our own message row), the response token's recipient, the headers and the text.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections import Counter
from dataclasses import dataclass
from email.message import EmailMessage
from functools import cached_property

from openesp.accounts.models import User, Workspace
from openesp.audience.actions import create_contact, create_list
from openesp.audience.models import ContactList, SuppressionReason
from openesp.audience.suppressions import add_suppression
from openesp.campaigns.campaigns import create_campaign
from openesp.campaigns.models import Campaign, TemplateVersion
from openesp.campaigns.templates import create_template
from openesp.campaigns.tokens import recipient_id_for
from openesp.messaging.models import Message

INVITATION_HTML = """<style>p.greeting { color: #123456 }</style>
<p class="greeting">Dear {{ contact.name }} ({{ contact.attributes.plan }}),</p>
<p><a href="{{ response_url }}">Answer here</a> · <a href="{{ unsubscribe_url }}">unsubscribe</a></p>"""


@dataclass(frozen=True)
class Audience:
    members: ContactList
    eligible: set[str]  # addresses an invitation must reach
    suppressed: set[str]  # a hard bounce, before the campaign starts
    unsubscribed: set[str]


def make_audience(workspace: Workspace, contacts: int, *, plan_missing: str = "") -> Audience:
    """``contacts`` contacts on one list: every 20th suppressed (hard bounce), every 25th
    unsubscribed (not also suppressed); ``plan_missing`` has no ``plan`` attribute."""
    members = create_list(workspace, "Members")
    eligible, suppressed, unsubscribed = set(), set(), set()
    for i in range(contacts):
        address = f"c{i}@example.net"
        attributes = {} if address == plan_missing else {"plan": f"plan-{i}"}
        create_contact(workspace, address, name=f"Person {i}", attributes=attributes, lists=[members])
        if i % 20 == 7:
            add_suppression(workspace, address, SuppressionReason.HARD_BOUNCE, source="api")
            suppressed.add(address)
        elif i % 25 == 3:
            add_suppression(workspace, address, SuppressionReason.UNSUBSCRIBE, source="api")
            unsubscribed.add(address)
        else:
            eligible.add(address)
    return Audience(members, eligible, suppressed, unsubscribed)


def invitation_template(workspace: Workspace, actor: User, name: str = "Invitation") -> TemplateVersion:
    return create_template(workspace, name=name, subject="Hello {{ contact.name }}", html=INVITATION_HTML, actor=actor)


def make_campaign(
    workspace: Workspace,
    actor: User,
    audience: Audience,
    *,
    receipt: TemplateVersion | None = None,
    name: str = "Spring",
) -> Campaign:
    return create_campaign(
        workspace,
        actor,
        name=name,
        template_version=invitation_template(workspace, actor, f"Invitation of {name}"),
        from_email=actor.email,
        from_name="Acme",
        lists=[audience.members],
        receipt_version=receipt,
    )


@dataclass(frozen=True)
class Delivered:
    to: str
    public_id: str
    category: str
    data: bytes

    @cached_property
    def mail(self) -> EmailMessage:
        """The mail parsed, when a test first reads it: a campaign's sink holds tens of
        thousands, and ``delivered`` needs only each one's Message-ID (parsing them all with
        ``email``'s default policy was a minute of the end-to-end test)."""
        mail = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(mail, EmailMessage)
        return mail

    @property
    def text(self) -> str:
        return str(self.mail.get_body(("plain",)).get_content())  # type: ignore[union-attr]

    @property
    def html(self) -> str:
        return str(self.mail.get_body(("html",)).get_content())  # type: ignore[union-attr]

    def recipient_id(self) -> int:
        """The recipient the response link of the mail names (its token checked)."""
        token = self.text.split("/r/", 1)[1].split("/", 1)[0]
        return recipient_id_for(token)


# Our Message-ID header, on a line of its own in the header block: <public id@host>.
_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*<([^@>\s]+)@", re.IGNORECASE | re.MULTILINE)


def _public_id(data: bytes) -> str:
    head = data.split(b"\r\n\r\n", 1)[0]
    found = _MESSAGE_ID.search(head)
    if found is not None:
        return found.group(1).decode()
    header = email.message_from_bytes(data, policy=email.policy.default)["Message-ID"]  # folded, say
    return str(header).strip("<>").split("@", 1)[0]


def delivered(sink: object) -> list[Delivered]:
    """What the sink received, each mail with its category (by its Message-ID, from our rows)."""
    received = sink.messages  # type: ignore[attr-defined]
    found = [(mail.rcpt_tos[0], _public_id(mail.data), mail.data) for mail in received]
    rows = Message.objects.filter(public_id__in=[public_id for _to, public_id, _data in found])
    categories = {str(public_id): category for public_id, category in rows.values_list("public_id", "category")}
    return [Delivered(to, public_id, categories[public_id], data) for to, public_id, data in found]


def per_address(mails: list[Delivered], category: str) -> Counter[str]:
    return Counter(d.to for d in mails if d.category == category)
