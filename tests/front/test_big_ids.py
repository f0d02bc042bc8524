"""Every page whose URL takes an id answers 404, never 500, for an id no database row can have.

Django's ``<int:…>`` converter has no upper bound; an id past a 64-bit integer would reach the
driver (SQLite raises OverflowError) unless each lookup bounds it.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

BIG = 10**20


def _int_routes() -> list[str]:
    routes: list[str] = []

    def walk(patterns: list[URLPattern | URLResolver], prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif "<int:" in route and not route.startswith("api/"):
                routes.append(route)

    walk(get_resolver().url_patterns, "")
    return routes


ROUTES = _int_routes()


def test_there_are_routes_to_check():
    assert len(ROUTES) > 20


@pytest.mark.parametrize("route", ROUTES)
def test_an_id_too_large_is_a_404(alice, org, workspace, route):
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    path = "/" + re.sub(r"<int:\w+>", str(BIG), route)
    for answer in (client.get(path), client.post(path)):
        assert answer.status_code in (404, 405), (path, answer.status_code)
