"""Counting every row of every table, to show that a refused request wrote nothing."""

from __future__ import annotations

import re

from django.apps import apps
from django.db import connection
from django.http import HttpResponse

from openesp.lib.models import RateLimitBucket


def row_counts() -> dict[str, int]:
    """Rows per table, the limiter's own table left out (a refusal may note itself there)."""
    skip = {RateLimitBucket._meta.db_table}
    counts = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names()):
            if table in skip:
                continue
            cursor.execute(f'SELECT COUNT(*) FROM "{table}"')
            counts[table] = cursor.fetchone()[0]
    assert counts, apps  # something was counted
    return counts


def page(response: HttpResponse) -> str:
    """A page's text without its CSRF token, which is masked afresh in every answer."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())
