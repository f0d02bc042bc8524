from __future__ import annotations

from ninja import NinjaAPI

api = NinjaAPI(title="openesp API", version="1", docs_url="/docs", openapi_url="/openapi.json")
