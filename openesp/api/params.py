"""Types for the ids and numbers that routes take, bounded as the database can hold them.

An id past what a 64-bit integer holds would reach the database and fail there (an
``OverflowError`` from the driver, a 500). Declaring the bound in the parameter's type makes
django-ninja answer 422 naming the parameter, and puts ``minimum``/``maximum`` in the OpenAPI
schema, so generated clients know the rule the server enforces.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any

from django.utils import timezone
from ninja import Schema
from ninja.schema import DjangoGetter
from pydantic import Field, JsonValue, ModelWrapValidatorHandler, ValidationInfo, model_validator

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


class Body(Schema):
    """The schema of a request body read on a hot path (sending mail).

    django-ninja validates every ``Schema`` through its ``DjangoGetter``, a wrapper made to read
    ORM objects for responses, which looks each field up through Python code of its own. A
    request body is a parsed JSON object — a dict — that pydantic reads directly with the same
    result (aliases, defaults, errors); the wrapper's lookups were a third of validating each
    message of a batch (docs/benchmarks.md, "Accepting mail over HTTP"). Anything else still
    goes through ninja's wrapper.
    """

    @model_validator(mode="wrap")
    @classmethod
    def _run_root_validator(cls, values: Any, handler: ModelWrapValidatorHandler[Any], info: ValidationInfo) -> Any:
        # Named as ninja's validator, which it replaces (pydantic: a subclass overrides by name).
        if isinstance(values, dict):
            return handler(values)
        return handler(DjangoGetter(values, cls, info.context))
