"""CSV imports into a list (scope ``contacts``)."""

from __future__ import annotations

from ninja import Router

from openesp.api.auth import ApiKeyAuth

router = Router(auth=ApiKeyAuth("contacts"), tags=["imports"])
