"""``audience.suppressions.suppress_many``: the batch writer the delivery engine's hard bounces
and imports are to use, each new suppression with its audit row."""

from __future__ import annotations

import pytest

from openesp.audience.models import Suppression, SuppressionAudit
from openesp.audience.suppressions import add_suppression, suppress_many

pytestmark = pytest.mark.django_db


def test_it_adds_a_batch_with_audit_rows_and_keeps_existing_suppressions(workspace, alice):
    add_suppression(workspace, "old@example.com", "manual")
    rows = [
        Suppression(workspace=workspace, email="a@example.com", reason="hard_bounce", detail="550 5.1.1"),
        Suppression(workspace=workspace, email="a@example.com", reason="hard_bounce", detail="550 5.1.1 again"),
        Suppression(workspace=workspace, email="old@example.com", reason="hard_bounce"),
        Suppression(workspace=None, email="b@example.com", reason="complaint", source="import", created_by=alice),
    ]
    added = suppress_many(rows, audit_source="delivery")
    assert sorted(s.email for s in added) == ["a@example.com", "b@example.com"]
    assert Suppression.objects.get(workspace=workspace, email="old@example.com").reason == "manual"
    audits = {(a.email, a.source, a.source_detail) for a in SuppressionAudit.objects.exclude(email="old@example.com")}
    assert audits == {("a@example.com", "delivery", "550 5.1.1 again"), ("b@example.com", "delivery", "")}
    assert SuppressionAudit.objects.get(email="b@example.com").actor == alice
    assert suppress_many(rows) == []  # all there now: nothing added, no audit rows
    assert SuppressionAudit.objects.count() == 3
