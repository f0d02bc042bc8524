"""Writing the outbox: the event log's listener (``messaging.eventlog.on_events``).

Runs in the transaction that writes the events, so an outbox row exists exactly when its event
does. The hot path (the delivery worker records every send) pays one small query when no
endpoint is active anywhere; otherwise three more: the batch's messages, their workspaces'
endpoints and their campaigns.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from openesp.campaigns.models import CampaignMessage
from openesp.hooksout.models import WebhookDelivery, WebhookEndpoint
from openesp.hooksout.payload import MessageFacts, body_for, event_type
from openesp.messaging.models import Event, Message


def new_webhook_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def enqueue_for_events(events: Sequence[Event]) -> None:
    if not WebhookEndpoint.objects.filter(active=True).exists():
        return
    message_ids = {e.message_id for e in events}
    messages = {
        row["pk"]: row
        for row in Message.objects.filter(pk__in=message_ids, workspace__isnull=False).values(
            "pk", "public_id", "to_email", "workspace_id", "category"
        )
    }
    wanted: dict[int, list[WebhookEndpoint]] = defaultdict(list)
    endpoints = WebhookEndpoint.objects.filter(
        active=True, workspace_id__in={m["workspace_id"] for m in messages.values()}
    )
    for endpoint in endpoints.only("id", "workspace_id", "events"):
        wanted[endpoint.workspace_id].append(endpoint)
    messages = {pk: row for pk, row in messages.items() if row["workspace_id"] in wanted}
    if not messages:
        return
    campaigns = dict(CampaignMessage.objects.filter(message_id__in=messages).values_list("message_id", "campaign_id"))
    rows = []
    for event in events:
        row = messages.get(event.message_id)
        if row is None:
            continue
        type_ = event_type(event)
        targets = [e for e in wanted[row["workspace_id"]] if type_ in e.events]
        if not targets:
            continue
        facts = MessageFacts(
            str(row["public_id"]), row["to_email"], row["workspace_id"], row["category"], campaigns.get(row["pk"])
        )
        body = body_for(event, facts)
        rows += [
            WebhookDelivery(
                endpoint=endpoint,
                message_id=row["pk"],
                event_id=event.pk,
                webhook_id=new_webhook_id(),
                type=type_,
                body=body,
            )
            for endpoint in targets
        ]
    WebhookDelivery.objects.bulk_create(rows, batch_size=500)
