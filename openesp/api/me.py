"""``/api/v1/me``: who the key acts as."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from openesp.accounts.access import memberships_of
from openesp.api.auth import ApiKeyAuth, caller
from openesp.api.errors import ERRORS

# Any valid key may ask whom it acts as, whatever its scopes.
router = Router(auth=ApiKeyAuth(), tags=["account"])


class OrganizationRoleOut(Schema):
    id: int
    name: str
    role: str


class KeyInfoOut(Schema):
    id: int
    prefix: str
    workspace_id: int | None
    scopes: list[str]


class MeOut(Schema):
    id: int
    email: str
    name: str
    language: str
    email_verified: bool
    organizations: list[OrganizationRoleOut]
    api_key: KeyInfoOut


@router.get("/me", response={200: MeOut, **ERRORS}, summary="The account the API key acts as")
def me(request: HttpRequest) -> dict[str, object]:
    c = caller(request)
    return {
        "id": c.user.pk,
        "email": c.user.email,
        "name": c.user.name,
        "language": c.user.language,
        "email_verified": c.user.email_verified,
        "organizations": [
            {"id": m.organization_id, "name": m.organization.name, "role": m.role} for m in memberships_of(c.actor)
        ],
        "api_key": {
            "id": c.key.pk,
            "prefix": c.key.prefix,
            "workspace_id": c.key.workspace_id,
            "scopes": list(c.key.scopes),
        },
    }
