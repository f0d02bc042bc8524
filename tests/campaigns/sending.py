"""Helpers of the campaign sending tests: an audience with exclusions, and what a sink received.

Each mail the sink received is read back as a ``Delivered``: the address, the message id, the
category (from our own message row), the response token's recipient, the headers and the text.
"""

from __future__ import annotations

import email
import email.policy
from collections import Counter
from dataclasses import dataclass
from email.message import EmailMessage

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
    mail: EmailMessage

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


def delivered(sink: object) -> list[Delivered]:
    """What the sink received, each mail with its category (by its Message-ID, from our rows)."""
    found = []
    for received in sink.messages:  # type: ignore[attr-defined]
        mail = email.message_from_bytes(received.data, policy=email.policy.default)
        assert isinstance(mail, EmailMessage)
        public_id = str(mail["Message-ID"]).strip("<>").split("@", 1)[0]
        found.append(Delivered(received.rcpt_tos[0], public_id, "", mail))
    rows = Message.objects.filter(public_id__in=[d.public_id for d in found]).values_list("public_id", "category")
    categories = {str(public_id): category for public_id, category in rows}
    return [Delivered(d.to, d.public_id, categories[d.public_id], d.mail) for d in found]


def per_address(mails: list[Delivered], category: str) -> Counter[str]:
    return Counter(d.to for d in mails if d.category == category)
