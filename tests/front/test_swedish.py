"""Complete Swedish (issue 10): the words left in English or misspelt — "Workspaces", the source
"admin" of a suppression, provider reasons, "E-post inbjudningar"."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import translation

from openesp.audience.suppressions import add_suppression
from openesp.front.views.imports import _REASONS, _translated

pytestmark = pytest.mark.django_db
SV = {"HTTP_ACCEPT_LANGUAGE": "sv"}


def test_workspaces_are_arbetsytor(as_alice, org, workspace):
    html = as_alice.get(reverse("org-workspaces", args=[org.pk]), **SV).content.decode()
    text = re.sub(r"<[^>]+>", " ", html)  # what a reader sees, not the URLs
    assert "Arbetsytor" in text
    assert "orkspace" not in text


def test_a_suppression_source_is_in_swedish(as_alice, workspace):
    add_suppression(workspace, "ann@example.com", source="admin", detail="web UI")
    html = as_alice.get(reverse("ws-suppressions", args=[workspace.pk]), **SV).content.decode()
    assert "Administratör" in html
    assert ">admin<" not in html


def test_provider_reasons_and_categories_are_in_swedish(as_alice, org, workspace):
    html = as_alice.get(reverse("home"), **SV).content.decode()
    assert "ingen leverantör är konfigurerad" in html
    html = as_alice.get(reverse("org-settings", args=[org.pk]), **SV).content.decode()
    assert "E-post inbjudningar" not in html


@pytest.mark.parametrize(
    ("reason", "swedish"),
    [
        ("language: must be a language tag such as en, sv or pt-BR", "språk: måste vara en språkkod"),
        ("time_zone: must be an IANA time zone such as Europe/Stockholm", "tidszon: måste vara en IANA-tidszon"),
        ("attributes.city: is longer than 1000 characters", "attributes.city: är längre än 1000 tecken"),
        ("email: The email address is not valid.", "e-post: ingen giltig adress"),
        ("duplicate of row 3", "dubblett av rad 3"),
    ],
)
def test_import_reasons_are_shown_in_swedish(reason, swedish):
    with translation.override("sv"):
        assert _translated(reason, _REASONS).startswith(swedish)
