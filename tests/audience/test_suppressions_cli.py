"""``openesp suppressions list|add|remove``: workspace and operator-global suppressions, audited."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from openesp.audience import suppressions
from openesp.audience.models import Suppression, SuppressionAudit

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("suppressions", *args, stdout=out)
    return out.getvalue()


def test_add_and_remove_a_global_suppression_with_audit(workspace):
    assert _run("add", "Everyone@Example.com", "--global", "--reason", "complaint") == (
        "suppressed everyone@example.com for all workspaces (complaint)\n"
    )
    suppression = Suppression.objects.get()
    assert (suppression.workspace, suppression.email, suppression.reason, suppression.source) == (
        None, "everyone@example.com", "complaint", "cli"
    )  # fmt: skip
    assert "already" in _run("add", "everyone@example.com", "--global")
    # A workspace cannot lift it, and the workspace's own command says how it can be lifted.
    with pytest.raises(CommandError, match="lift it with --global"):
        _run("remove", "everyone@example.com", "--workspace", str(workspace.pk))
    assert Suppression.objects.count() == 1

    assert "lifted" in _run("remove", "EVERYONE@example.com", "--global")
    assert not Suppression.objects.exists()
    audit = list(
        SuppressionAudit.objects.order_by("id").values_list("workspace", "action", "reason", "source", "actor")
    )
    assert audit == [(None, "add", "complaint", "cli", None), (None, "remove", "complaint", "cli", None)]


def test_add_and_remove_in_a_workspace(workspace):
    _run("add", "gone@example.com", "--workspace", str(workspace.pk))
    assert Suppression.objects.get().workspace == workspace
    _run("remove", "gone@example.com", "--workspace", str(workspace.pk))
    assert not Suppression.objects.exists()
    assert list(SuppressionAudit.objects.values_list("workspace", "source", "actor")) == [
        (workspace.pk, "cli", None),
        (workspace.pk, "cli", None),
    ]


def test_list_shows_scopes(org, workspace):
    suppressions.add_suppression(workspace, "mine@example.com")
    suppressions.add_suppression(None, "everyone@example.com", "complaint")
    other = workspace.__class__.objects.create(organization=org, name="Sales")
    suppressions.add_suppression(other, "theirs@example.com")

    lines = _run("list", "--workspace", str(workspace.pk)).splitlines()
    assert [line.split("\t")[:3] for line in lines] == [
        ["everyone@example.com", "global", "complaint"],
        ["mine@example.com", f"workspace {workspace.pk}", "manual"],
    ]
    assert [line.split("\t")[0] for line in _run("list", "--global").splitlines()] == ["everyone@example.com"]
    assert len(_run("list").splitlines()) == 3
    assert [line.split("\t")[0] for line in _run("list", "THEIRS").splitlines()] == ["theirs@example.com"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "not-an-address", "--global"], "EMAIL: "),
        (["add", "a@example.com", "--global", "--reason", "bored"], "--reason: must be one of"),
        (["add", "a@example.com", "--workspace", "999999"], "--workspace: no workspace has the id 999999"),
        (["remove", "nobody@example.com", "--global"], "EMAIL: nobody@example.com is not suppressed for all"),
    ],
)
def test_bad_input_is_a_clear_error_and_changes_nothing(args, message):
    with pytest.raises(CommandError, match=message):
        _run(*args)
    assert not Suppression.objects.exists()
    assert not SuppressionAudit.objects.exists()


@pytest.mark.parametrize("args", [["add", "a@example.com"], ["add", "a@example.com", "--global", "--workspace", "1"]])
def test_add_and_remove_need_exactly_one_scope(args):
    with pytest.raises(CommandError):
        _run(*args)
    assert not Suppression.objects.exists()
