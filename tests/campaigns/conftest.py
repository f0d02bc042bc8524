"""Fixtures of the campaign tests: a template, a list with contacts, a draft campaign."""

from __future__ import annotations

import pytest

from openesp.audience.actions import create_contact, create_list
from openesp.campaigns.campaigns import create_campaign
from openesp.campaigns.models import Campaign, TemplateVersion
from openesp.campaigns.templates import create_template


@pytest.fixture
def version(workspace, alice) -> TemplateVersion:
    return create_template(
        workspace,
        name="Invite",
        subject="Hello {{ contact.name }}",
        html="<p>Dear {{ contact.name }}, <a href='{{ response_url }}'>answer</a></p>",
        actor=alice,
    )


@pytest.fixture
def members(workspace):
    members = create_list(workspace, "Members")
    for i in range(5):
        create_contact(workspace, f"m{i}@example.com", name=f"M {i}", lists=[members])
    return members


@pytest.fixture
def campaign(workspace, alice, version, members) -> Campaign:
    return create_campaign(
        workspace, alice, name="Spring", template_version=version, from_email="alice@example.org", lists=[members]
    )
