"""Tenant look-ups: an outsider gets the same 404 as for a missing template or campaign."""

from __future__ import annotations

import pytest
from django.http import Http404

from openesp.campaigns.access import access_campaign, access_template, access_template_version


def test_it_finds_the_callers_own(campaign, alice, bob, version):
    assert access_campaign(alice, campaign.pk) == campaign
    assert access_campaign(bob, str(campaign.pk)) == campaign
    assert access_template(bob, version.template_id) == version.template
    assert access_template_version(alice, version.template_id, None) == version
    assert access_template_version(alice, version.template_id, 1) == version


@pytest.mark.parametrize("ident", ["missing", "foreign", "huge", "text"])
def test_it_answers_404_alike_for_missing_and_foreign(campaign, charlie, alice, version, ident):
    ids = {"missing": 10**6, "foreign": campaign.pk, "huge": 2**70, "text": "x"}
    user = charlie if ident == "foreign" else alice
    with pytest.raises(Http404, match="campaign not found"):
        access_campaign(user, ids[ident])
    template_id = version.template_id if ident == "foreign" else ids[ident]
    with pytest.raises(Http404, match="template not found"):
        access_template(user, template_id)


def test_it_answers_404_for_a_missing_version(alice, version):
    with pytest.raises(Http404, match="template version not found"):
        access_template_version(alice, version.template_id, 2)
