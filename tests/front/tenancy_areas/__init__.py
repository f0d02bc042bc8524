"""Rows of the outsider table (``tests/front/test_tenancy.py``) kept by area.

Each module defines ``TABLE`` (URL name -> (id keys, methods)) and ``make(alice, org, workspace)``
returning those ids for Acme's objects.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

AREAS: list[ModuleType] = [
    importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)
]
