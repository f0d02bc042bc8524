"""The statistics page of a workspace: counters by day, category, provider or campaign, a chart
by day, and the same table as CSV (``?format=csv``). Read from the daily counters
(``stats.queries``); the campaign page's delivery dashboard uses ``campaign_dashboard``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from openesp.accounts.access import access_workspace
from openesp.campaigns.models import Campaign
from openesp.front.helpers import the_actor
from openesp.lib.downloads import csv_download, line_writer, safe_cell
from openesp.lib.errors import InvalidInput
from openesp.stats.access import access_counted_campaign
from openesp.stats.models import COUNTERS
from openesp.stats.queries import GROUPS, MAX_DAYS, Period, campaign_names, period, stat_rows, totals

RATES = ("delivery_rate", "open_rate", "click_rate")


def _shown(total: dict[str, Any]) -> dict[str, Any]:
    """``total`` with its rates as percentages too (``<rate name minus _rate>_percent``), for the tiles."""
    shown = dict(total)
    for rate in RATES:
        if total[rate] is not None:
            shown[rate.replace("_rate", "_percent")] = total[rate] * 100
    return shown


def _chart(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What the chart script draws: per day, sends and what came of them."""
    keep = ("sent", "delivered", "opened_unique", "clicked_unique", "bounced_hard", "bounced_soft")
    return {"points": [{"day": r["day"], **{k: r[k] for k in keep}} for r in rows]}


@require_GET
@login_required  # not member_view, typed for HttpResponse (the CSV streams); read-only: no refusal to show
def stats_page(request: HttpRequest, ws_id: int) -> HttpResponseBase:
    actor = the_actor(request)
    workspace = access_workspace(actor, ws_id)
    group_by = request.GET.get("group_by") or "day"
    problem = ""
    try:
        when = period(request.GET.get("from") or None, request.GET.get("to") or None)
        campaign = request.GET.get("campaign") or None
        campaign_id = access_counted_campaign(actor, campaign, workspace=workspace).pk if campaign else None
        rows = stat_rows(workspace, when, group_by, campaign_id=campaign_id, category=request.GET.get("category"))
        daily = rows if group_by == "day" else stat_rows(workspace, when, "day", campaign_id=campaign_id)
    except InvalidInput as exc:
        problem = "; ".join(f"{p.field}: {p.reason}" for p in exc.problems)
        when, group_by, campaign_id = period(None, None), "day", None
        rows = daily = stat_rows(workspace, when, "day")
    if group_by == "campaign":
        names = campaign_names(workspace, [r["campaign_id"] for r in rows])
        rows = [{**r, "name": names.get(r["campaign_id"] or 0, "")} for r in rows]
    if request.GET.get("format") == "csv":
        return csv_download(_csv(rows, group_by), f"statistics-{workspace.pk}-{when.first}-{when.last}.csv")
    context = {
        "workspace": workspace,
        "organization": workspace.organization,
        "section": "stats",
        "rows": rows,
        "total": _shown(totals(rows)),
        "chart": _chart(daily),
        "group_by": group_by,
        "groups": [(g, _label(g)) for g in GROUPS],
        "first": when.first,
        "last": when.last,
        "campaign_id": campaign_id,
        "problem": problem,
    }
    return render(request, "front/stats/stats.html", context)


def _label(group: str) -> str:
    return {"day": _("Day"), "category": _("Category"), "provider": _("Provider"), "campaign": _("Campaign")}[group]


def _csv(rows: list[dict[str, Any]], group_by: str) -> Iterator[str]:
    writer = line_writer()
    key = "campaign_id" if group_by == "campaign" else group_by
    named = group_by == "campaign"  # a campaign's name is the user's text: guarded like every cell
    yield writer.writerow([key, *(["campaign_name"] if named else []), *COUNTERS, *RATES])
    for row in rows:
        head = [safe_cell(row[key]), *([safe_cell(row["name"])] if named else [])]
        yield writer.writerow([*head, *(safe_cell(row[n]) for n in (*COUNTERS, *RATES))])


def campaign_dashboard(campaign: Campaign) -> dict[str, Any]:
    """The campaign page's delivery dashboard: the counters of its mail since it was made, per day."""
    today = timezone.now().date()
    first = max(campaign.created_at.astimezone(UTC).date(), today - timedelta(days=MAX_DAYS - 1))
    rows = stat_rows(campaign.workspace, Period(min(first, today), today), "day", campaign_id=campaign.pk)
    return {"total": _shown(totals(rows)), "chart": _chart(rows)}
