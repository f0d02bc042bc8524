"""Types for the ids and numbers that routes take, bounded as the database can hold them.

An id past what a 64-bit integer holds would reach the database and fail there (an
``OverflowError`` from the driver, a 500). Declaring the bound in the parameter's type makes
django-ninja answer 422 naming the parameter, and puts ``minimum``/``maximum`` in the OpenAPI
schema, so generated clients know the rule the server enforces.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated

from django.utils import timezone
from pydantic import Field, JsonValue

from openesp.lib.errors import InvalidInput

MAX_ID = 2**63 - 1  # the largest BIGINT; every primary key of openesp fits in it

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
"""An object's id, in a path, a query or a body."""

MAX_PAGE = 100
PageLimit = Annotated[int, Field(ge=1, le=MAX_PAGE)]
"""How many items one page of a listing holds."""


def one_of(values: Iterable[str | None]) -> dict[str, JsonValue]:
    """``json_schema_extra`` stating the values a field takes, when a route checks them itself

    (to answer with its own reason) rather than through a ``Literal`` type.
    """
    return {"enum": list(values)}


def utc_instant(name: str, value: datetime) -> datetime:
    """A query's date-time as UTC (UTC when it names no zone). Compared in UTC because a
    database may refuse the zone itself (PostgreSQL: offsets past ±15:59, which ISO 8601
    allows); a time whose UTC falls outside the years 1–9999 is refused naming ``name``."""
    aware = value if timezone.is_aware(value) else timezone.make_aware(value, UTC)
    try:
        return aware.astimezone(UTC)
    except OverflowError:
        raise InvalidInput.one(name, "is outside the years 1 to 9999 once converted to UTC") from None
