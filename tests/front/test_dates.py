"""English pages write dates in one format, the ISO-like ``2026-12-05 07:22`` (issue 10): not
"Dec. 5, 2026, 7:21 a.m." or "12/05/2026" beside it; the message log's date filter is typed as
YYYY-MM-DD, not in the browser's mm/dd/yyyy."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from openesp.accounts import actions
from openesp.accounts.models import Invitation, Workspace

pytestmark = pytest.mark.django_db


def test_english_dates_are_iso_like(as_alice, alice, org, workspace):
    invitation, _token = actions.invite(alice, org.pk, "dana@example.net")
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=datetime(2026, 12, 5, 7, 21, tzinfo=UTC))
    Workspace.objects.filter(pk=workspace.pk).update(created_at=datetime(2026, 11, 2, 9, 0, tzinfo=UTC))
    invitations = as_alice.get(reverse("org-invitations", args=[org.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "2026-12-05 07:21" in invitations
    assert not re.search(r"\d{1,2}/\d{1,2}/\d{4}|a\.m\.|p\.m\.", invitations)
    workspaces = as_alice.get(reverse("org-workspaces", args=[org.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "2026-11-02" in workspaces


def test_the_date_filter_is_typed_as_iso(as_alice, workspace):
    html = as_alice.get(reverse("ws-messages", args=[workspace.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    field = re.search(r'<input[^>]*name="date_from"[^>]*>', html).group(0)
    assert 'type="text"' in field and 'placeholder="YYYY-MM-DD"' in field
