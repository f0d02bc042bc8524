"""``openesp send``: the command-line way into the same queue as the API."""

from __future__ import annotations

import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from openesp.accounts.models import Membership, Role, User
from openesp.messaging.models import Message

pytestmark = pytest.mark.django_db


def _send(*args: str) -> list[str]:
    out = StringIO()
    call_command("send", *args, stdout=out)
    return out.getvalue().split()


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "body.txt"
    path.write_text("Hello from the command line\n", encoding="utf-8")
    return str(path)


def test_it_queues_one_message_per_recipient_and_prints_the_ids(alice, workspace, text_file, tmp_path):
    html = tmp_path / "body.html"
    html.write_text("<p>Hello</p>", encoding="utf-8")
    ids = _send(
        "--user", "Alice@Example.org",
        "--from", "alice@example.org",
        "--to", "a@example.net", "--to", "b@example.net",
        "--subject", "Hi",
        "--text-file", text_file,
        "--html-file", str(html),
        "--workspace", str(workspace.pk),
        "--category", "reminder",
    )  # fmt: skip
    messages = Message.objects.order_by("id")
    assert ids == [str(m.public_id) for m in messages]
    assert [uuid.UUID(i) for i in ids]
    assert [m.to_email for m in messages] == ["a@example.net", "b@example.net"]
    first = messages[0]
    assert (first.user, first.workspace, first.category, first.status) == (alice, workspace, "reminder", "queued")
    assert (first.text_body, first.html_body) == ("Hello from the command line\n", "<p>Hello</p>")


def test_it_schedules(alice, text_file):
    later = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    (message_id,) = _send(
        "--user", "alice@example.org", "--from", "alice@example.org", "--to", "a@example.net",
        "--subject", "Later", "--text-file", text_file, "--send-at", later.isoformat(),
    )  # fmt: skip
    assert Message.objects.get(public_id=message_id).not_before == later


@pytest.mark.parametrize(
    ("change", "option"),
    [
        ({"--to": "not-an-address"}, "--to: 'not-an-address'"),
        ({"--from": "ceo@bank.example"}, "--from: ceo@bank.example is not a sender you may use"),
        ({"--subject": "Hi\nBcc: x@example.com"}, "--subject: must not contain line breaks"),
        ({"--send-at": "tomorrow"}, "--send-at: must be an ISO 8601"),
        ({"--user": "nobody@example.org"}, "--user: no active account"),
        ({"--workspace": "987654"}, "--workspace: alice@example.org has no workspace 987654"),
        ({"--text-file": "/nonexistent/body.txt"}, "--text-file: cannot read /nonexistent/body.txt"),
    ],
)
def test_it_names_the_option_at_fault(alice, text_file, change, option):
    options = {
        "--user": "alice@example.org",
        "--from": "alice@example.org",
        "--to": "a@example.net",
        "--subject": "Hi",
        "--text-file": text_file,
        **change,
    }
    with pytest.raises(CommandError) as info:
        _send(*[part for pair in options.items() for part in pair])
    assert str(info.value).startswith(option)
    assert not Message.objects.exists()


def test_it_needs_a_body(alice):
    with pytest.raises(CommandError, match="--text-file: give --text-file, --html-file or both"):
        _send("--user", "alice@example.org", "--from", "alice@example.org", "--to", "a@example.net", "--subject", "Hi")


def test_it_refuses_another_users_workspace(charlie, workspace, text_file):
    with pytest.raises(CommandError, match="--workspace"):
        _send(
            "--user", "charlie@example.net", "--from", "charlie@example.net", "--to", "a@example.net",
            "--subject", "Hi", "--text-file", text_file, "--workspace", str(workspace.pk),
        )  # fmt: skip


def test_it_refuses_viewers(org, workspace, text_file):
    dana = User.objects.create_user("dana@example.org", "x" * 20, email_verified=True)
    Membership.objects.create(organization=org, user=dana, role=Role.VIEWER).workspaces.add(workspace)
    with pytest.raises(CommandError, match=r"--workspace: dana@example\.org is a viewer there"):
        _send(
            "--user", "dana@example.org", "--from", "dana@example.org", "--to", "a@example.net",
            "--subject", "Hi", "--text-file", text_file, "--workspace", str(workspace.pk),
        )  # fmt: skip
