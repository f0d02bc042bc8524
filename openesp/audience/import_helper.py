"""What the import's helper process runs (``import_jobs._helper_pool``).

This module imports no models at the top: a spawned process unpickles a reference to these
functions before Django is set up, and ``setup`` is what sets it up.
"""

from __future__ import annotations

from collections.abc import Sequence


def setup() -> None:
    import django

    django.setup()


def validate(addresses: Sequence[str], workspace_id: int) -> list[tuple[str, str, str] | str]:
    from openesp.audience.importer import validate_addresses

    return validate_addresses(addresses, workspace_id)
