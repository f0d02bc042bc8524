"""The HTTP API at ``/api/``: native routes under ``/api/v1/``, OpenAPI at ``/api/docs``.

Routes are thin: parse, authorise through the caller's tenant, call the actions in
``accounts.actions`` and ``esp.actions``. Errors share one shape (see ``api.errors``).
"""

from __future__ import annotations

from django.http import Http404, HttpRequest
from ninja import NinjaAPI, Router

from openesp.api import audience, categories, domains, errors, esp, imports, keys, me, messages, organizations, segments
from openesp.api.auth import ApiKeyAuth
from openesp.api.content import ApiParser

api = NinjaAPI(
    title="openesp API",
    version="1",
    description="Authenticate with `Authorization: Bearer <API key>`. Create keys with "
    "`openesp apikey create --user EMAIL` or `POST /api/v1/api-keys`.",
    docs_url="/docs",
    openapi_url="/openapi.json",
    auth=ApiKeyAuth(),
    parser=ApiParser(),
)
errors.install(api)
api.add_router("/v1", me.router)
api.add_router("/v1", esp.router)
api.add_router("/v1", organizations.router)
api.add_router("/v1", keys.router)
api.add_router("/v1", messages.router)
api.add_router("/v1", domains.router)
api.add_router("/v1", audience.router)
api.add_router("/v1", imports.router)
api.add_router("/v1", segments.router)
api.add_router("/v1", categories.router)

# Last, so that it only sees what no route took: an unknown path answers in the API's error
# shape rather than with the web UI's HTML page.
fallback = Router(auth=None)


@fallback.api_operation(["GET", "POST", "PUT", "PATCH", "DELETE"], "/{path:rest}", include_in_schema=False)
def no_such_route(request: HttpRequest, rest: str) -> None:
    raise Http404("no such API route")


api.add_router("", fallback)
