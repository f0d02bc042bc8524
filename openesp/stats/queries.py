"""Reading the daily counters: rows grouped by day, category, provider or campaign, with rates.

Sums over the counter rows of one workspace (a few per day and category), never a count over
the message log. Rates (docs/statistics.md): ``delivery_rate = delivered / sent``,
``open_rate = opened_unique / delivered``, ``click_rate = clicked_unique / delivered``, rounded
to four places, and ``None`` when the divisor is 0 (no mail to rate is not a rate of 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from openesp.accounts.models import Workspace
from openesp.campaigns.models import Campaign
from openesp.lib.errors import InvalidInput
from openesp.stats.models import COUNTERS, DailyCounter

GROUPS = {"day": "day", "category": "category", "provider": "provider", "campaign": "campaign_id"}
DEFAULT_DAYS = 30
MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def period(start: str | None, end: str | None) -> Period:
    """``from``/``to`` as ISO dates (UTC days, both included); by default the last 30 days."""
    last = _day("to", end) if end else timezone.now().date()
    first = _day("from", start) if start else last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise InvalidInput.one("from", "is after to")
    if (last - first).days >= MAX_DAYS:
        raise InvalidInput.one("from", f"is more than {MAX_DAYS} days before to")
    return Period(first, last)


def _day(field: str, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput.one(field, "is not an ISO date (YYYY-MM-DD)") from None


def rates(row: dict[str, Any]) -> dict[str, float | None]:
    def ratio(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    return {
        "delivery_rate": ratio(row["delivered"], row["sent"]),
        "open_rate": ratio(row["opened_unique"], row["delivered"]),
        "click_rate": ratio(row["clicked_unique"], row["delivered"]),
    }


def stat_rows(
    workspace: Workspace,
    when: Period,
    group_by: str,
    *,
    campaign_id: int | None = None,
    category: str | None = None,
) -> list[dict[str, Any]]:
    """One row per group: its key (``day``, ``category``, ``provider`` or ``campaign_id``), every
    counter and the rates. By day, every day of the period has a row, zeros included (a chart's
    x axis); the other groupings list only the groups that have mail, in order of their key."""
    if group_by not in GROUPS:
        raise InvalidInput.one("group_by", f"must be one of {', '.join(GROUPS)}")
    column = GROUPS[group_by]
    counters = DailyCounter.objects.filter(workspace_id=workspace.pk, day__gte=when.first, day__lte=when.last)
    if campaign_id is not None:
        counters = counters.filter(campaign_id=campaign_id)
    if category:
        counters = counters.filter(category=category)
    sums = {
        row[column]: row
        for row in counters.values(column).annotate(**{name: Sum(name) for name in COUNTERS}).order_by(column)
    }
    keys = when.days if group_by == "day" else list(sums)
    rows = []
    for key in keys:
        found = sums.get(key, {})
        row: dict[str, Any] = {name: int(found.get(name) or 0) for name in COUNTERS}
        row.update(rates(row))
        if group_by == "campaign":
            row = {"campaign_id": key or None, **row}  # 0: mail of no campaign
        else:
            row = {group_by: key.isoformat() if isinstance(key, date) else key, **row}
        rows.append(row)
    return rows


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The counters of ``rows`` added up, with the rates of the sums."""
    total: dict[str, Any] = {name: sum(int(r[name]) for r in rows) for name in COUNTERS}
    total.update(rates(total))
    return total


def campaign_names(workspace: Workspace, ids: list[int | None]) -> dict[int, str]:
    """The names of the workspace's campaigns among ``ids`` (a deleted one has none)."""
    wanted = [pk for pk in ids if pk]
    return dict(Campaign.objects.filter(workspace_id=workspace.pk, id__in=wanted).values_list("id", "name"))
