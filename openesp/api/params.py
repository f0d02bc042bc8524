"""Types for the ids and numbers that routes take, bounded as the database can hold them.

An id past what a 64-bit integer holds would reach the database and fail there (an
``OverflowError`` from the driver, a 500). Declaring the bound in the parameter's type makes
django-ninja answer 422 naming the parameter, and puts ``minimum``/``maximum`` in the OpenAPI
schema, so generated clients know the rule the server enforces.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from pydantic import Field, JsonValue

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
