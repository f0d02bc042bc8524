"""Nothing of another tenant is reachable: every route that names another tenant's object
answers exactly as it would for an id that does not exist (404 for ids in the path), and
changes nothing.

Two outsiders are tried against Acme (alice owns it, bob is a member): charlie, who has his
own organization, and a workspace key of alice's that is bound to her *other* organization,
Globex — alice herself could see Acme, the key must not.

To add a route: add a row to ROUTES (or to the ``ROUTES`` of an area module in
``tests/api/tenancy_areas/``, which also makes that area's objects and snapshots them).
``test_it_covers_every_route_that_takes_an_id`` fails until every id-taking route (path, query or body) has a row.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from openesp.accounts.actions import create_organization, invite
from openesp.accounts.apikeys import create_api_key
from openesp.accounts.models import ApiKey, Invitation, Membership, Organization, User, Workspace
from openesp.api.main import api
from openesp.audience.actions import create_contact, create_list
from openesp.audience.models import ConsentRecord, Contact, ContactList, Subscription, Suppression
from openesp.audience.suppressions import add_suppression
from openesp.delivery.domains import add_dkim_key
from openesp.delivery.models import DkimKeyRecord
from openesp.esp.models import EspConfig
from openesp.messaging.models import Event, Message, SendingDomain
from openesp.messaging.senders import add_sending_domain
from openesp.messaging.submit import parse_submission, submit
from tests import worlds
from tests.api.conftest import SMTP_PASSWORD, Api, api_for
from tests.api.tenancy_areas import AREAS, MISSING, NOT_IDS, PLACEHOLDER, Route

pytestmark = pytest.mark.django_db

_PLACEHOLDER = PLACEHOLDER


SMTP = {
    "kind": "smtp",
    "host": "smtp.acme.example",
    "port": 587,
    "security": "starttls",
    "from_email": "a@acme.example",
}

ROUTES = [
    Route("GET", "/api/v1/organizations/{organization_id}"),
    Route("PATCH", "/api/v1/organizations/{organization_id}", {"name": "Pwned"}),
    Route("DELETE", "/api/v1/organizations/{organization_id}"),
    Route("GET", "/api/v1/organizations/{organization_id}/esp"),
    Route("PUT", "/api/v1/organizations/{organization_id}/esp", {"kind": "sendgrid", "enforced": False}),
    Route("DELETE", "/api/v1/organizations/{organization_id}/esp"),
    Route("GET", "/api/v1/organizations/{organization_id}/workspaces"),
    Route("POST", "/api/v1/organizations/{organization_id}/workspaces", {"name": "Pwned"}),
    Route("GET", "/api/v1/workspaces/{workspace_id}"),
    Route("PATCH", "/api/v1/workspaces/{workspace_id}", {"name": "Pwned"}),
    Route("DELETE", "/api/v1/workspaces/{workspace_id}"),
    Route("GET", "/api/v1/organizations/{organization_id}/members"),
    Route("PATCH", "/api/v1/organizations/{organization_id}/members/{membership_id}", {"role": "viewer"}),
    Route("DELETE", "/api/v1/organizations/{organization_id}/members/{membership_id}"),
    # Acme's organization id with a membership id of the caller's own organization, and the reverse.
    Route("PATCH", "/api/v1/organizations/{organization_id}/members/{own_membership_id}", {"role": "viewer"}),
    Route("PATCH", "/api/v1/organizations/{own_organization_id}/members/{membership_id}", {"role": "viewer"}),
    Route("DELETE", "/api/v1/organizations/{own_organization_id}/members/{membership_id}"),
    # An Acme workspace named in the body of a route on the caller's own objects: the field is wrong.
    Route(
        "PATCH",
        "/api/v1/organizations/{own_organization_id}/members/{own_membership_id}",
        {"workspaces": ["{workspace_id}"]},
        status=422,
    ),
    Route("GET", "/api/v1/organizations/{organization_id}/invitations"),
    Route("POST", "/api/v1/organizations/{organization_id}/invitations", {"email": "mallory@example.com"}),
    Route(
        "POST",
        "/api/v1/organizations/{own_organization_id}/invitations",
        {"email": "mallory@example.com", "workspace": "{workspace_id}"},
        status=422,
    ),
    Route("DELETE", "/api/v1/invitations/{invitation_id}"),
    Route("GET", "/api/v1/esp/effective?organization={organization_id}"),
    Route("POST", "/api/v1/esp/test", {"config_id": "{config_id}"}),
    Route("GET", "/api/v1/organizations/{organization_id}/esp/bounce-mailbox"),
    Route(
        "PUT",
        "/api/v1/organizations/{organization_id}/esp/bounce-mailbox",
        {"host": "imap.evil.example", "username": "mallory", "password": "pwned"},
    ),
    Route("DELETE", "/api/v1/organizations/{organization_id}/esp/bounce-mailbox"),
    Route("POST", "/api/v1/esp/bounce-mailbox/test", {"config_id": "{config_id}"}),
    Route("POST", "/api/v1/esp/test", {**SMTP, "organization": "{organization_id}"}),
    Route("DELETE", "/api/v1/api-keys/{key_id}", personal_only=True),
    Route("POST", "/api/v1/api-keys", {"workspace": "{workspace_id}"}, personal_only=True),
    Route("GET", "/api/v1/messages/{message_id}"),
    Route("POST", "/api/v1/messages/{message_id}/cancel"),
    Route("GET", "/api/v1/messages?workspace={workspace_id}"),
    Route(
        "POST",
        "/api/v1/messages",
        {
            "from": "a@acme.example",
            "to": ["x@example.com"],
            "subject": "Hi",
            "text": "Hi",
            "workspace": "{workspace_id}",
        },
    ),
    # Acme's workspace named by one message of a batch: the whole request is a 404, nothing queued.
    Route(
        "POST",
        "/api/v1/messages/batch",
        {
            "messages": [
                {"from": "a@acme.example", "to": ["x@example.com"], "subject": "Hi", "text": "Hi"},
                {
                    "from": "a@acme.example",
                    "to": ["y@example.com"],
                    "subject": "Hi",
                    "text": "Hi",
                    "workspace": "{workspace_id}",
                },
            ]
        },
    ),
    Route("GET", "/api/v1/workspaces/{workspace_id}/domains"),
    Route("POST", "/api/v1/workspaces/{workspace_id}/domains", {"domain": "pwned.example"}),
    Route("DELETE", "/api/v1/domains/{domain_id}"),
    Route("POST", "/api/v1/domains/{domain_id}/verify", {}),
    Route("POST", "/api/v1/contacts", {"email": "mallory@example.com", "workspace": "{workspace_id}"}),
    # Without a workspace: charlie's personal key must name one, alice's Globex key adds to Globex,
    # where the list id names nothing.
    Route("POST", "/api/v1/contacts", {"email": "mallory@example.com", "lists": ["{list_id}"]}, status=422),
    Route("GET", "/api/v1/contacts?workspace={workspace_id}&list={list_id}"),
    Route("GET", "/api/v1/contacts/{contact_id}"),
    Route("PATCH", "/api/v1/contacts/{contact_id}", {"name": "Pwned"}),
    Route("DELETE", "/api/v1/contacts/{contact_id}"),
    Route("GET", "/api/v1/contacts/{contact_id}/export"),
    Route("GET", "/api/v1/workspaces/{workspace_id}/contacts/export"),
    Route("POST", "/api/v1/lists", {"name": "Pwned", "workspace": "{workspace_id}"}),
    Route("GET", "/api/v1/lists?workspace={workspace_id}"),
    Route("GET", "/api/v1/lists/{list_id}"),
    Route("PATCH", "/api/v1/lists/{list_id}", {"name": "Pwned"}),
    Route("DELETE", "/api/v1/lists/{list_id}"),
    Route("POST", "/api/v1/lists/{list_id}/subscribers", {"contact_id": "{contact_id}"}),
    Route("DELETE", "/api/v1/lists/{list_id}/subscribers/{contact_id}"),
    Route("GET", "/api/v1/suppressions?workspace={workspace_id}"),
    Route("POST", "/api/v1/suppressions", {"email": "mallory@example.com", "workspace": "{workspace_id}"}),
    Route("DELETE", "/api/v1/suppressions?email=gone@example.com&workspace={workspace_id}"),
    Route("DELETE", "/api/v1/suppressions", {"email": "gone@example.com", "workspace": "{workspace_id}"}),
]
ROUTES += [route for area in AREAS for route in area.ROUTES]


def _make_acme(alice: User, bob: User, org: Organization, workspace: Workspace) -> dict[str, Any]:
    """Acme's objects, one of each kind, for outsiders to reach for."""
    config = EspConfig.objects.create(
        organization=org, enforced=True, **SMTP, username="acme", imap_host="imap.acme.example", imap_username="b"
    )
    config.set_password(SMTP_PASSWORD)
    config.save()
    invitation, _token = invite(alice, org.pk, "dana@example.com")
    bob_key, _raw = create_api_key(bob)
    domain = add_sending_domain("acme.example", workspace)
    add_dkim_key(domain, algorithm="ed25519")
    # Queued, so that a cancel that got through would change it.
    body = {"from": "a@acme.example", "to": ["x@example.com"], "subject": "Hi", "text": "Hi"}
    (message,) = submit(alice, parse_submission(body), workspace=workspace, organization=org)
    contact_list = create_list(workspace, "Newsletter")
    contact = create_contact(workspace, "subscriber@example.com", lists=[contact_list])
    add_suppression(workspace, "gone@example.com")
    extra: dict[str, Any] = {}
    for area in AREAS:
        extra.update(area.make(alice, org, workspace))
    return {
        **extra,
        "list_id": contact_list.pk,
        "contact_id": contact.pk,
        "organization_id": org.pk,
        "workspace_id": workspace.pk,
        "membership_id": Membership.objects.get(organization=org, user=bob).pk,
        "invitation_id": invitation.pk,
        "key_id": bob_key.pk,
        "config_id": config.pk,
        "domain_id": domain.pk,
        "message_id": str(message.public_id),
    }


@pytest.fixture(scope="module")
def acme(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    """Acme and its objects, made once for the module's hundreds of tests: each only reads them
    (and asserts so), in a savepoint of its own (``tests/worlds.py``)."""
    with worlds.module_transaction(django_db_blocker):
        alice, bob = worlds.make_alice(), worlds.make_bob()
        org = worlds.make_org(alice, bob)
        yield _make_acme(alice, bob, org, worlds.make_workspace(org, bob))


@dataclass
class Outsider:
    api: Api
    own: dict[str, int]
    workspace_key: bool


@pytest.fixture(scope="module", params=["charlie", "alice's Globex workspace key"])
def outsider(request: pytest.FixtureRequest, acme: dict[str, Any], django_db_blocker: Any) -> Iterator[Outsider]:
    with worlds.module_transaction(django_db_blocker):
        if request.param == "charlie":
            user = worlds.make_charlie()
            organization = worlds.make_charlie_org(user)
            api, workspace_key = api_for(user), False
        else:
            user = User.objects.get(email="alice@example.org")
            organization = create_organization(user, "Globex")
            api = api_for(user, workspace=Workspace.objects.create(organization=organization, name="Shop"))
            workspace_key = True
        own = {
            "own_organization_id": organization.pk,
            "own_membership_id": Membership.objects.get(organization=organization, user=user).pk,
        }
        yield Outsider(api, own, workspace_key)


def _fill(value: Any, ids: dict[str, int]) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, str) and (m := _PLACEHOLDER.fullmatch(value)):
        return ids[m.group(1)]
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: str(ids[m.group(1)]), value)
    return value


def _snapshot() -> list[Any]:
    return [
        list(Organization.objects.order_by("pk").values()),
        list(Workspace.objects.order_by("pk").values()),
        list(Membership.objects.order_by("pk").values()),
        list(Membership.workspaces.through.objects.order_by("pk").values()),
        list(Invitation.objects.order_by("pk").values()),
        list(EspConfig.objects.order_by("pk").values()),
        list(ApiKey.objects.order_by("pk").values("pk", "revoked_at", "scopes", "workspace_id")),
        list(Message.objects.order_by("pk").values("pk", "status", "updated_at")),
        list(Event.objects.order_by("pk").values("pk", "type")),
        list(SendingDomain.objects.order_by("pk").values()),
        list(DkimKeyRecord.objects.order_by("pk").values("pk", "active")),
        list(Contact.objects.order_by("pk").values()),
        list(ContactList.objects.order_by("pk").values()),
        list(Subscription.objects.order_by("pk").values()),
        list(ConsentRecord.objects.order_by("pk").values()),
        list(Suppression.objects.order_by("pk").values()),
        *(rows for area in AREAS for rows in area.snapshot()),
    ]


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.id)
def test_it_answers_outsiders_as_if_nothing_were_there(route, acme, outsider):
    if route.personal_only and outsider.workspace_key:
        pytest.skip("a workspace key is refused this route outright (403)")
    before = _snapshot()
    foreign = outsider.api.call(
        route.method, _fill(route.path, {**acme, **outsider.own}), _fill(route.body, {**acme, **outsider.own})
    )
    missing_ids = {**dict.fromkeys(acme, MISSING), **outsider.own}
    missing = outsider.api.call(route.method, _fill(route.path, missing_ids), _fill(route.body, missing_ids))

    assert foreign.status_code == route.status, foreign.content
    assert foreign.json() == missing.json()
    assert foreign.json()["error"] == ("not_found" if route.status == 404 else "invalid")
    text = foreign.content.decode()
    for secret in ("Acme", "Marketing", "bob@example.org", "dana@example.com", "smtp.acme.example"):
        assert secret not in text
    assert _snapshot() == before


def _id_params(schema: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    """Path and query parameters, and integer (or integer-list) body fields other than counts."""
    names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
    names |= {
        p["name"]
        for p in operation.get("parameters", [])
        if p["in"] == "query" and p["name"] not in NOT_IDS and _is_int(p["schema"])
    }
    ref = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    if "$ref" in ref:
        body = schema["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]
        names |= {name for name, prop in body.get("properties", {}).items() if name not in NOT_IDS and _is_int(prop)}
    return names


def _is_int(prop: dict[str, Any]) -> bool:
    options = prop.get("anyOf", [prop])
    return any(o.get("type") == "integer" or o.get("items", {}).get("type") == "integer" for o in options)


def test_it_covers_every_route_that_takes_an_id():
    schema = api.get_openapi_schema(path_prefix="/api/")
    covered: dict[tuple[str, str], set[str]] = {}
    for route in ROUTES:
        key = (route.method, _PLACEHOLDER.sub("{}", route.path.partition("?")[0]))
        covered.setdefault(key, set()).update(re.sub(r"^own_", "", name) for name in route.params())
    missing = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            wanted = _id_params(schema, operation)
            have = covered.get((method.upper(), _PLACEHOLDER.sub("{}", path)), set())
            missing += [f"{method.upper()} {path} ({name})" for name in sorted(wanted - have)]
    assert not missing, "routes taking ids without a row in ROUTES: " + ", ".join(missing)
