"""What copies of one submission share (To/Cc headers, bodies, raw SMTP mail, attachments) is deleted
with their workspace or organization, and nothing another one still uses."""

from __future__ import annotations

import base64
import dataclasses

import pytest

from openesp.accounts import actions
from openesp.messaging.models import AddressHeaders, Attachment, Message, MessageBody, RawContent
from openesp.messaging.submit import parse_submission, submit

pytestmark = pytest.mark.django_db

RAW = b"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: Hi\r\n\r\nHello\r\n"


def _send_everything(alice, workspace) -> None:
    """One submission of each kind that stores a shared row, in ``workspace``."""
    attached = [{"filename": "a.txt", "content": base64.b64encode(b"private").decode()}]
    body = {"from": "alice@example.org", "subject": "Hi", "text": "Hello", "attachments": attached}
    submit(alice, parse_submission(body | {"to": ["bob@example.net", "carol@example.net"]}), workspace=workspace)
    raw = dataclasses.replace(parse_submission(body | {"to": ["dave@example.net"], "attachments": []}), raw=RAW)
    submit(alice, raw, workspace=workspace)


def _shared() -> tuple[int, int, int, int]:
    counts = AddressHeaders.objects.count(), RawContent.objects.count(), Attachment.objects.count()
    return (*counts, MessageBody.objects.count())


def test_deleting_a_workspace_deletes_what_its_messages_share_and_nothing_else(alice, org, workspace):
    other = actions.create_workspace(alice, org.pk, "Other")
    _send_everything(alice, workspace)
    _send_everything(alice, other)
    assert _shared() == (2, 2, 2, 4)  # a body for each submission
    kept = set(Message.objects.filter(workspace=other).values_list("address_headers", "raw_content"))

    actions.delete_workspace(alice, workspace)

    assert _shared() == (1, 1, 1, 2)  # failed before: (2, 2, 2), the deleted workspace's rows left
    assert not Message.objects.filter(workspace_id=workspace.pk).exists()
    assert set(Message.objects.filter(workspace=other).values_list("address_headers", "raw_content")) == kept
    (left,) = Message.objects.filter(workspace=other, to_email="bob@example.net")
    assert (left.visible_to, left.text_body, [bytes(a.data) for a in left.attachments.all()]) == (
        "bob@example.net, carol@example.net",
        "Hello",
        [b"private"],
    )


def test_deleting_an_organization_deletes_what_the_messages_of_all_its_workspaces_share(alice, org, workspace):
    _send_everything(alice, workspace)
    _send_everything(alice, actions.create_workspace(alice, org.pk, "Other"))
    elsewhere = actions.create_organization(alice, "Elsewhere")
    _send_everything(alice, actions.create_workspace(alice, elsewhere.pk, "Theirs"))

    actions.delete_organization(alice, org.pk)

    assert _shared() == (1, 1, 1, 2)
    assert set(Message.objects.values_list("organization", flat=True)) == {elsewhere.pk}
