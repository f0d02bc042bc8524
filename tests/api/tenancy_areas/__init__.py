"""Rows of the outsider table (``tests/api/test_tenancy.py``) kept by area.

Each module here defines ``ROUTES`` (a list of ``Route``), ``make(alice, org, workspace)``
returning the ids its routes name (keys of the ``{placeholder}``s; Acme's objects), and
``snapshot()`` returning lists of rows that an outsider's request must leave unchanged.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass
from types import ModuleType
from typing import Any

MISSING = 987654321
# Integer parameters that are counts (or a template's version numbers), not ids of anything.
NOT_IDS = frozenset(
    {
        "port", "limit", "after_days", "version", "template_version", "receipt_template_version",
        "offset_days", "delay_minutes", "reminder_after_days",
    }
)  # fmt: skip
PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # an OpenAPI path, optionally with ?query; {name} fills in ids
    body: dict[str, Any] | None = None
    status: int = 404  # what both a foreign and a missing id get
    personal_only: bool = False  # a workspace key is refused (403) before any lookup

    @property
    def id(self) -> str:
        fields = ",".join(k for k, v in (self.body or {}).items() if _names(v))
        return f"{self.method} {self.path}" + (f" {{{fields}}}" if fields else "")

    def params(self) -> set[str]:
        """The id parameters this row names another tenant's object through."""
        path, _sep, query = self.path.partition("?")
        names = set(PLACEHOLDER.findall(path))
        names |= {k for k, v in (pair.split("=") for pair in query.split("&") if pair) if _names(v)}
        names |= {k for k, v in (self.body or {}).items() if _names(v)}
        return names


def _names(value: Any) -> list[str]:
    return PLACEHOLDER.findall(str(value))


AREAS: list[ModuleType] = [
    importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)
]
