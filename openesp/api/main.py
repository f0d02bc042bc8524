"""The HTTP API at ``/api/``: native routes under ``/api/v1/``, OpenAPI at ``/api/docs``.

Routes are thin: parse, authorise through the caller's tenant, call the actions in
``accounts.actions`` and ``esp.actions``. Errors share one shape (see ``api.errors``).
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest
from ninja import NinjaAPI, Router
from ninja.openapi.schema import OpenAPISchema

from openesp.api import (
    automations,
    campaign_recipients,
    campaign_states,
    campaigns,
    categories,
    category_messages,
    contacts,
    domains,
    errors,
    esp,
    imports,
    keys,
    lists,
    me,
    messages,
    organizations,
    segments,
    stats,
    suppressions,
    templates,
    webhooks,
)
from openesp.api.auth import ApiKeyAuth
from openesp.api.content import ApiParser

# What every route that reads a body may answer besides its own statuses (api.content, api.errors).
BODY_ERRORS = {
    "400": ("InvalidOut", "the body is not readable: not JSON, a malformed Content-Type, multipart without a boundary"),
    "413": ("ErrorOut", "the body is larger than the server accepts"),
    "415": ("ErrorOut", "the body is of a media type this route does not read"),
}


class Api(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: Any = None) -> OpenAPISchema:
        """The schema, with the answers to an unreadable body stated on every route that reads one.

        They come from the parser and the exception handlers, not from a route's own ``response``,
        so they are added here once rather than in each route.
        """
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for operations in schema["paths"].values():
            for operation in operations.values():
                if operation.get("security"):
                    # api.auth: a client that sent too many wrong keys is refused on every route.
                    operation.setdefault("responses", {}).setdefault(
                        "429",
                        {
                            "description": "too many failed API-key authentications from this client address (or, "
                            "for an invitation, mail to its address asked for again too soon); the "
                            "`Retry-After` header says after how many seconds to try again",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
                        },
                    )
                if "requestBody" not in operation:
                    continue
                responses = operation.setdefault("responses", {})
                for status, (component, description) in BODY_ERRORS.items():
                    responses.setdefault(
                        status,
                        {
                            "description": description,
                            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{component}"}}},
                        },
                    )
        return schema


api = Api(
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
api.add_router("/v1", contacts.router)
api.add_router("/v1", lists.router)
api.add_router("/v1", suppressions.router)
api.add_router("/v1", imports.router)
api.add_router("/v1", segments.router)
api.add_router("/v1", categories.router)
api.add_router("/v1", templates.router)
api.add_router("/v1", campaigns.router)
api.add_router("/v1", campaign_states.router)
api.add_router("/v1", campaign_recipients.router)
api.add_router("/v1", automations.router)
api.add_router("/v1", category_messages.router)
api.add_router("/v1", stats.router)
api.add_router("/v1", webhooks.router)

# Last, so that it only sees what no route took: an unknown path answers in the API's error
# shape rather than with the web UI's HTML page.
fallback = Router(auth=None)


@fallback.api_operation(["GET", "POST", "PUT", "PATCH", "DELETE"], "/{path:rest}", include_in_schema=False)
def no_such_route(request: HttpRequest, rest: str) -> None:
    raise Http404("no such API route")


api.add_router("", fallback)
