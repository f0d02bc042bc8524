"""Categories of the preference centre and contacts' subscriptions to them (scope ``contacts``)."""

from __future__ import annotations

from ninja import Router

from openesp.api.auth import ApiKeyAuth

router = Router(auth=ApiKeyAuth("contacts"), tags=["categories"])
