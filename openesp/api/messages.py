"""Transactional mail: ``POST /api/v1/messages`` and reading the log of sent messages.

Accepting is ``messaging.idempotency.submit_once``: ``parse_submission`` + ``submit`` (the same
path as ``openesp send``) inside one transaction with the idempotency record. The 202 is built
only after that transaction has committed, so an id in a response is always a message on the
queue: a client never holds an id for mail that a crash then loses. ``POST /api/v1/messages/batch``
does the same for up to 500 individual messages (``messaging.batch.submit_batch_once``).

One module past 400 lines: sending one message, sending many and reading the log share the body
schema, the workspace rule and one router, whose order matters (``/messages/batch`` must come
before ``/messages/{message_id}``, which would otherwise take it).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema
from ninja.errors import ValidationError as NinjaValidationError
from ninja.params.functions import Header
from ninja.renderers import JSONRenderer
from pydantic import SkipValidation
from pydantic import ValidationError as PydanticValidationError

from openesp.accounts.access import require_editor
from openesp.accounts.models import Workspace
from openesp.api.auth import ApiKeyAuth, Caller, Forbidden, caller, reach_workspace
from openesp.api.errors import ERRORS, Conflict, ErrorOut, InvalidOut, Malformed
from openesp.api.params import MAX_ID, MAX_PAGE, Body, Id, PageLimit, one_of, utc_instant
from openesp.lib.errors import FieldProblem, InvalidInput
from openesp.messaging.access import CANCEL_REFUSAL, SEND_REFUSAL, access_message, visible_messages
from openesp.messaging.actions import NotCancellable, cancel_message
from openesp.messaging.batch import MAX_BATCH, BatchItem, submit_batch_once
from openesp.messaging.idempotency import Answer, submit_once
from openesp.messaging.models import Category, Message, Status
from openesp.messaging.submit import LINE_BREAKS, MAX_RECIPIENTS, SenderNotAllowed
from openesp.stats.access import access_counted_campaign

# One router: GET and POST /messages must share a URL pattern. Each route names its scope.
router = Router(tags=["messages"])
SEND = ApiKeyAuth("messages.send")
READ = ApiKeyAuth("messages.read")

SEND_ERRORS: dict[int, type[Schema]] = {**ERRORS, 400: InvalidOut, 413: ErrorOut}


# --- sending ------------------------------------------------------------------------------------


class AddressIn(Body):
    email: str
    name: str = ""


class AttachmentIn(Body):
    filename: str
    content: str = Field(description="the file, base64-encoded")
    type: str | None = Field(None, description="MIME type; default application/octet-stream")
    content_id: str | None = Field(None, description="for inline images referenced as cid:<content_id>")


Address = str | AddressIn


class TrackingIn(Body):
    opens: bool | None = Field(None, description="add the open pixel; omitted: the workspace's default")
    clicks: bool | None = Field(None, description="rewrite links to count clicks; omitted: the workspace's default")


_ADDRESS = 'an address, or {"email", "name"}'


class MessageIn(Body):
    """One request, one Message per recipient in to, cc and bcc (at most 1,000 in all)."""

    from_: Address = Field(alias="from", description=_ADDRESS, examples=["orders@shop.example"])
    to: list[Address] = Field(description=f"{_ADDRESS}; each recipient gets their own message")
    cc: list[Address] = Field(default_factory=list, description="shown in the Cc header; each gets a message")
    bcc: list[Address] = Field(default_factory=list, description="each gets a message and appears nowhere")
    reply_to: Address | None = None
    subject: str
    text: str | None = Field(None, description="the plain-text part; give text, html or both")
    html: str | None = Field(None, description="the HTML part; a text part is derived from it if text is absent")
    headers: dict[str, str] = Field(default_factory=dict, description="extra headers, e.g. X-Order-Id")
    attachments: list[AttachmentIn] = Field(default_factory=list)
    category: str | None = Field(None, description="default transactional")
    tags: list[str] = Field(default_factory=list, description="up to 10 strings")
    metadata: dict[str, str] = Field(default_factory=dict, description="echoed in events and webhooks")
    tracking: TrackingIn | None = Field(
        None, description="open and click tracking; omitted: the workspace's default (off for transactional)"
    )
    send_at: str | None = Field(
        None, description="ISO 8601 with a time zone, at most 30 days ahead", examples=["2026-12-01T09:00:00Z"]
    )
    sandbox: bool = Field(False, description="validate and record, deliver nothing (status sandbox)")
    workspace: Id | None = Field(
        None,
        description="personal keys: send in this workspace (omitted: as yourself, in no workspace); "
        "workspace keys send in their own workspace when omitted",
    )

    def submission_data(self) -> dict[str, Any]:
        """The body as ``parse_submission`` reads it (and as the idempotency fingerprint sees it)."""
        return self.model_dump(by_alias=True, exclude_none=True, exclude={"workspace"})


class MessagesAcceptedOut(Schema):
    ids: list[uuid.UUID] = Field(description="one message id per recipient, in the order to, cc, bcc")


def _sending_workspace(c: Caller, workspace_id: int | None) -> Workspace | None:
    """Where the mail is sent: a workspace the caller may send in, or None (personal)."""
    if workspace_id is None:
        workspace_id = c.key.workspace_id
        if workspace_id is None:
            return None
    workspace = reach_workspace(c, workspace_id)
    require_editor(c.actor, workspace, SEND_REFUSAL)
    return workspace


def _idempotency_key(raw: str | None) -> str | None:
    if raw is None:
        return None
    key = raw.strip()
    if not key or len(key) > 255 or not key.isprintable():
        raise InvalidInput.one("Idempotency-Key", "must be 1 to 255 printable characters")
    return key


@router.post(
    "/messages",
    auth=SEND,
    response={202: MessagesAcceptedOut, **SEND_ERRORS},
    summary="Send mail: one message per recipient, queued for delivery",
    description=(
        "Answers 202 with the message ids once they are safely on the queue. 422 names the field "
        "at fault; 400 refuses line breaks or NUL in any header value or address (header "
        "injection); 403 when `from` is not a sender you may use, with the reason; 413 when the "
        f"body is too large. At most {MAX_RECIPIENTS} recipients in to, cc and bcc together.\n\n"
        "With an `Idempotency-Key` header, a repeat of the same request returns the first answer "
        "and creates nothing; the same key with a different body is a 422 naming `Idempotency-Key`."
    ),
)
def send_message(
    request: HttpRequest,
    payload: MessageIn,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> HttpResponse:
    c = caller(request)
    key = _idempotency_key(idempotency_key)
    workspace = _sending_workspace(c, payload.workspace)
    try:
        answer = submit_once(
            c.user, payload.submission_data(), workspace=workspace, owner=f"apikey:{c.key.pk}", key=key
        )
    except InvalidInput as exc:
        if any(p.reason == LINE_BREAKS for p in exc.problems):
            raise Malformed(exc.problems) from None
        raise
    except SenderNotAllowed as exc:
        raise Forbidden(str(exc)) from None
    # Only here, after submit_once's transaction has committed, is the 202 built.
    return _accepted(request, answer)


_RENDERER = JSONRenderer()  # the API's own (api.main.Api keeps ninja's default)


def _accepted(request: HttpRequest, answer: Answer) -> HttpResponse:
    """The answer rendered as ninja renders a route's result, without validating it against the
    route's response schema first: the body was built to that schema (ids as strings, refusals
    in the error shape; ``tests/api`` compares them), and for a batch of 500 that validation took
    about a sixth of the request (docs/benchmarks.md, "Accepting mail over HTTP")."""
    content = _RENDERER.render(request, answer.body, response_status=answer.status_code)
    return HttpResponse(
        content, status=answer.status_code, content_type=f"{_RENDERER.media_type}; charset={_RENDERER.charset}"
    )


# --- sending many individual messages at once ---------------------------------------------------


class MessageBatchIn(Body):
    # Each message is checked on its own in the route (SkipValidation keeps its schema in the
    # OpenAPI document): one that does not fit must not refuse the others.
    messages: list[SkipValidation[MessageIn]] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description=f"1 to {MAX_BATCH} messages, each shaped exactly as the body of POST /api/v1/messages",
    )


class MessageBatchOut(Schema):
    messages: list[MessagesAcceptedOut | InvalidOut] = Field(
        description="one entry per message, in order: its ids when accepted; when refused, the error shape "
        "of a 422 (`error` is `invalid`, or `forbidden` for a sender you may not use) with each field "
        "prefixed by the message's position, e.g. `messages[3].to[0]`"
    )


def _batch_item(position: int, raw: Any, c: Caller, workspaces: dict[int | None, Workspace | None]) -> BatchItem:
    """One message of a batch, checked as the single send's body is; its workspace reached."""
    if not isinstance(raw, dict):
        raise InvalidInput.one(f"messages[{position}]", "must be an object shaped as the body of POST /api/v1/messages")
    try:
        message = MessageIn.model_validate(raw)
    except (PydanticValidationError, NinjaValidationError) as exc:
        # The same messages as the single send's 422 (pydantic's), without the input they quote.
        errors = exc.errors if isinstance(exc, NinjaValidationError) else exc.errors(include_input=False)
        problems = tuple(
            FieldProblem(".".join(str(p) for p in e.get("loc", ())), str(e.get("msg", "is invalid"))) for e in errors
        )
        return BatchItem(data=raw, problems=problems)
    # A workspace that is not the caller's answers the whole request 404 (a viewer's, 403), as
    # the single send does: who may send where is the request's, not one message's, question.
    if message.workspace not in workspaces:
        workspaces[message.workspace] = _sending_workspace(c, message.workspace)
    return BatchItem(data=message.submission_data(), workspace=workspaces[message.workspace])


@router.post(
    "/messages/batch",
    auth=SEND,
    response={202: MessageBatchOut, **SEND_ERRORS},
    summary=f"Send up to {MAX_BATCH} individual messages in one request",
    description=(
        "Each message is what the body of `POST /api/v1/messages` is, and is checked, authorised and "
        "queued as that route does it; one that is refused gets its reasons in its entry and does not "
        "stop the others. Answers 202 with one entry per message, in order, once every accepted message "
        f"is safely on the queue. 422 naming `messages` when the body is not 1 to {MAX_BATCH} objects "
        "under `messages`; 404 when a message names a workspace you cannot reach, 403 one you may not "
        "send in (nothing is queued then).\n\n"
        "With an `Idempotency-Key` header, a repeat of the same request returns the first answer and "
        "creates nothing; the same key with a different body is a 422 naming `Idempotency-Key`. An "
        "answer that accepted no message is not remembered."
    ),
)
def send_batch(
    request: HttpRequest,
    payload: MessageBatchIn,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> HttpResponse:
    c = caller(request)
    key = _idempotency_key(idempotency_key)
    workspaces: dict[int | None, Workspace | None] = {}
    items = [_batch_item(position, raw, c, workspaces) for position, raw in enumerate(payload.messages)]
    answer = submit_batch_once(c.user, items, owner=f"apikey:{c.key.pk}", key=key)
    # Only here, after submit_batch_once's transaction has committed, is the 202 built.
    return _accepted(request, answer)


# --- reading ----------------------------------------------------------------------------------


class AddressOut(Schema):
    email: str
    name: str


class RouteOut(Schema):
    kind: str | None = Field(description="smtp, relay, sendgrid, mailjet or none; null until routed")
    reason: str | None = Field(description="why this provider carried the message")


class AttachmentOut(Schema):
    filename: str
    type: str
    size: int
    content_id: str | None


class EventOut(Schema):
    type: str
    created_at: datetime
    smtp_code: int | None
    enhanced_status: str | None
    detail: str
    data: dict[str, Any] = Field(
        description="what else is known: provider, bounce (hard, soft or sender for a policy block), url of a"
        " click, user_agent and ip of an open or click, first (the message's first open or click), machine"
        " (an open by a machine, such as Apple Mail Privacy Protection)"
    )


class MessageOut(Schema):
    id: uuid.UUID
    status: str = Field(description=", ".join(Status.values))
    category: str
    workspace_id: int | None
    from_: AddressOut = Field(alias="from", description="the From the message asked for")
    sent_from: str | None = Field(
        description="the From address as handed to the provider (a custom SMTP server's own From address"
        " replaces the requested one); null until a provider was tried"
    )
    to: AddressOut
    reply_to: str | None
    subject: str
    tags: list[str]
    metadata: dict[str, str]
    created_at: datetime
    send_at: datetime = Field(description="not before this time (the schedule, or a retry after deferral)")
    sent_at: datetime | None
    attempts: int
    provider: RouteOut
    provider_message_id: str | None
    last_smtp_code: int | None
    last_response: str | None


class MessageDetailOut(MessageOut):
    attachments: list[AttachmentOut]
    events: list[EventOut] = Field(description="oldest first")


class MessagePageOut(Schema):
    items: list[MessageOut] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last page")


def _out(m: Message) -> dict[str, Any]:
    return {
        "id": m.public_id,
        "status": m.status,
        "category": m.category,
        "workspace_id": m.workspace_id,
        "from": {"email": m.from_email, "name": m.from_name},
        "sent_from": m.sent_from or None,
        "to": {"email": m.to_email, "name": m.to_name},
        "reply_to": m.reply_to or None,
        "subject": m.subject,
        "tags": m.tags,
        "metadata": m.metadata,
        "created_at": m.created_at,
        "send_at": m.not_before,
        "sent_at": m.sent_at,
        "attempts": m.attempts,
        "provider": {"kind": m.provider_kind or None, "reason": m.provider_reason or None},
        "provider_message_id": m.provider_message_id or None,
        "last_smtp_code": m.last_smtp_code,
        "last_response": m.last_response or None,
    }


def _detail(m: Message) -> dict[str, Any]:
    return {
        **_out(m),
        "attachments": [
            {"filename": a.filename, "type": a.content_type, "size": a.size, "content_id": a.content_id or None}
            for a in m.attachments.order_by("id")
        ],
        "events": [
            {
                "type": e.type,
                "created_at": e.created_at,
                "smtp_code": e.smtp_code,
                "enhanced_status": e.enhanced_status or None,
                "detail": e.detail,
                "data": e.data if isinstance(e.data, dict) else {},
            }
            for e in m.events.order_by("created_at", "id")
        ],
    }


@router.get(
    "/messages",
    auth=READ,
    response={200: MessagePageOut, **ERRORS},
    by_alias=True,
    summary="Your messages, newest first, a page at a time",
    description=(
        "Filters: `status`, `to` (the recipient's address), `category`, `since` (created at or after; "
        "ISO 8601, UTC when no zone is given), `until` (created before; likewise), `campaign` (the id of a "
        "campaign, automation or category message: its mail), `workspace`. Pages hold `limit` messages (default 50, "
        f"at most {MAX_PAGE}); follow `next_cursor` until it is null. A workspace key sees its "
        "organization's workspaces; a personal key also sees what you sent in no workspace."
    ),
)
def list_messages(
    request: HttpRequest,
    status: Annotated[str | None, Field(json_schema_extra=one_of(Status.values))] = None,
    to: str | None = None,
    category: Annotated[str | None, Field(json_schema_extra=one_of(Category.values))] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    campaign: Id | None = None,
    workspace: Id | None = None,
    limit: PageLimit = 50,
    # Checked below, to answer with the reason; stated here for clients.
    cursor: Annotated[str | None, Field(json_schema_extra={"pattern": "^[0-9]{0,19}$"})] = None,
) -> dict[str, Any]:
    c = caller(request)
    # A workspace key sees only the workspaces of its organization, never personal mail.
    messages = visible_messages(c.actor)
    if workspace is not None:
        messages = messages.filter(workspace=reach_workspace(c, workspace))
    if status is not None:
        if status not in Status.values:
            raise InvalidInput.one("status", f"must be one of {', '.join(Status.values)}")
        messages = messages.filter(status=status)
    if category is not None:
        if category not in Category.values:
            raise InvalidInput.one("category", f"must be one of {', '.join(Category.values)}")
        messages = messages.filter(category=category)
    if to:
        messages = messages.filter(to_email__iexact=to.strip())
    if since is not None:
        messages = messages.filter(created_at__gte=utc_instant("since", since))
    if until is not None:
        messages = messages.filter(created_at__lt=utc_instant("until", until))
    if campaign is not None:
        # 404 for a campaign beyond the caller's reach, as for any foreign id.
        messages = messages.filter(campaign_link__campaign_id=access_counted_campaign(c.actor, campaign).pk)
    if cursor:
        # The cursor is the id of the last message of the previous page; ids grow with time,
        # so "older than the cursor" is stable however many messages arrive meanwhile.
        # "²".isdigit() too, and int() refuses it; past MAX_ID the database driver would overflow.
        if not (cursor.isascii() and cursor.isdigit()) or int(cursor) > MAX_ID:
            raise InvalidInput.one("cursor", "is not a cursor this API gave out")
        messages = messages.filter(id__lt=int(cursor))
    page = list(messages.order_by("-id")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return {"items": [_out(m) for m in page], "next_cursor": str(page[-1].pk) if more else None}


@router.get(
    "/messages/{message_id}",
    auth=READ,
    response={200: MessageDetailOut, **ERRORS},
    by_alias=True,
    summary="A message: its status, the provider that carried it, the last SMTP reply and its events",
)
def get_message(request: HttpRequest, message_id: str) -> dict[str, Any]:
    return _detail(access_message(caller(request).actor, message_id))


@router.post(
    "/messages/{message_id}/cancel",
    auth=SEND,
    response={200: MessageDetailOut, **ERRORS, 409: ErrorOut},
    by_alias=True,
    summary="Cancel a message that is still waiting on the queue (scheduled, queued or deferred)",
    description="409 with the reason when a worker has taken it already or it has been sent.",
)
def cancel(request: HttpRequest, message_id: str) -> dict[str, Any]:
    c = caller(request)
    message = access_message(c.actor, message_id)
    if message.workspace is not None:
        require_editor(c.actor, message.workspace, CANCEL_REFUSAL)
    try:
        message = cancel_message(message, detail=f"cancelled with API key {c.key.prefix}…")
    except NotCancellable as exc:
        raise Conflict(str(exc)) from None
    return _detail(message)
