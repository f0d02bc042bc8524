"""Statistics of a workspace (scope ``stats``): ``GET /api/v1/stats``, read from the daily counters.

The workspace is named as for contacts (``api.scope.workspace_of``); a ``campaign`` that is not
the workspace's answers 404 like any foreign id. Rows and rates: ``stats.queries``.
"""

from __future__ import annotations

from typing import Annotated

from django.http import HttpRequest, JsonResponse
from ninja import Field, Router, Schema
from ninja.params.functions import Query

from openesp.api.auth import ApiKeyAuth, caller
from openesp.api.errors import ERRORS
from openesp.api.params import Id, one_of
from openesp.api.scope import workspace_of
from openesp.stats.access import access_counted_campaign
from openesp.stats.queries import GROUPS, period, stat_rows

router = Router(auth=ApiKeyAuth("stats"), tags=["stats"])


class StatisticsRowOut(Schema):
    """One group's counters. Exactly one of ``day``, ``category``, ``provider``, ``campaign_id``
    is present: the one ``group_by`` names."""

    day: str | None = Field(None, description="group_by=day: the UTC day, YYYY-MM-DD")
    category: str | None = Field(None, description="group_by=category: the message category")
    provider: str | None = Field(
        None, description='group_by=provider: the provider kind; "" for mail requested but not sent yet'
    )
    campaign_id: int | None = Field(None, description="group_by=campaign: the campaign; null for mail of none")
    requested: int
    sent: int
    delivered: int
    deferred: int
    bounced_hard: int
    bounced_soft: int
    dropped: int
    opened: int = Field(description="every open, human and machine")
    opened_human: int = Field(description="opens not flagged as a machine's (privacy proxies, scanners)")
    clicked: int = Field(description="every click, human and machine")
    clicked_human: int
    complained: int
    unsubscribed: int
    responded: int
    delivery_rate: float | None = Field(description="delivered / sent; null when nothing was sent")
    open_rate: float | None = Field(description="messages opened at least once / delivered; null when none delivered")
    click_rate: float | None = Field(description="messages clicked at least once / delivered; null when none delivered")


class StatisticsOut(Schema):
    rows: list[StatisticsRowOut]


_FIELDS = set(StatisticsRowOut.model_fields)


@router.get(
    "/stats",
    response={200: StatisticsOut, **ERRORS},
    summary="Delivery and engagement statistics, by day, category, provider or campaign",
    description="`from`/`to` are ISO dates, UTC days, both included (default: the last 30 days; at most 366). "
    "`group_by` is `day` (default; every day of the period, zeros included), `category`, `provider` or "
    "`campaign`; `campaign` and `category` narrow the counted mail. Counted as events arrive: see "
    "docs/statistics.md for what each counter counts.",
)
def get_stats(
    request: HttpRequest,
    workspace: Id | None = None,
    start: str | None = Query(None, alias="from"),
    to: str | None = None,
    group_by: Annotated[str, Field(json_schema_extra=one_of(GROUPS))] = "day",
    campaign: Id | None = None,
    category: str | None = None,
) -> JsonResponse:
    c = caller(request)
    ws = workspace_of(c, workspace)
    campaign_id = access_counted_campaign(c.actor, campaign, workspace=ws).pk if campaign is not None else None
    rows = stat_rows(ws, period(start, to), group_by, campaign_id=campaign_id, category=category)
    # Built here rather than through StatisticsOut, which would add the three group keys not asked
    # for as nulls: a row carries only the key it is grouped by (StatisticsOut documents the shape).
    return JsonResponse({"rows": [{k: v for k, v in row.items() if k in _FIELDS} for row in rows]})
