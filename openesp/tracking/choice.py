"""Whether one message is tracked: its own choice (``Message.tracking``), else its campaign's
(``Campaign.tracking``), else its workspace's default for its kind of mail (``TrackingDefaults``:
campaign mail tracked, transactional mail not, unless the workspace says otherwise). Platform
and system mail is never tracked."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from openesp.messaging.models import Category, Message
from openesp.tracking.models import TrackingDefaults

CACHE_SECONDS = 60.0  # the worker asks for every message it builds; defaults change rarely
BULK = {"invitation", "invitation_automation", "reminder", "reminder_scheduled", "category_message"}
NEVER = {Category.SYSTEM, Category.ORG_INVITATION, Category.WORKSPACE_INVITATION}


@dataclass(frozen=True)
class Choice:
    opens: bool = False
    clicks: bool = False

    @property
    def any(self) -> bool:
        return self.opens or self.clicks


OFF = Choice()
_cache: dict[int, tuple[float, TrackingDefaults]] = {}


def defaults_of(workspace_id: int, *, fresh: bool = False) -> TrackingDefaults:
    """The workspace's defaults (an unsaved row of the model's defaults when it has none);
    ``fresh``: read now, not from the worker's cache (for the page that shows them)."""
    cached = _cache.get(workspace_id)
    now = time.monotonic()
    if fresh or cached is None or now - cached[0] > CACHE_SECONDS:
        found = TrackingDefaults.objects.filter(workspace_id=workspace_id).first()
        cached = _cache[workspace_id] = (now, found or TrackingDefaults(workspace_id=workspace_id))
    return cached[1]


def load_defaults(workspace_ids: Iterable[int | None]) -> None:
    """Read the defaults of these workspaces now (one query) into the cache ``choice_for`` uses:
    the worker calls it while planning a batch, so that building the batch's messages (for an
    HTTP provider, inside the event loop) touches no database."""
    wanted = {w for w in workspace_ids if w is not None}
    if not wanted:
        return
    found = {d.workspace_id: d for d in TrackingDefaults.objects.filter(workspace_id__in=wanted)}
    now = time.monotonic()
    for workspace_id in wanted:
        _cache[workspace_id] = (now, found.get(workspace_id) or TrackingDefaults(workspace_id=workspace_id))


def forget_defaults() -> None:
    _cache.clear()


def choice_for(message: Message, campaign: dict[str, bool] | None = None) -> Choice:
    if message.workspace_id is None or message.category in NEVER:
        return OFF
    own = message.tracking if isinstance(message.tracking, dict) else {}
    chosen = {**(campaign or {}), **own}
    if len(chosen) < 2:
        defaults = defaults_of(message.workspace_id)
        bulk = message.category in BULK
        chosen.setdefault("opens", defaults.campaign_opens if bulk else defaults.transactional_opens)
        chosen.setdefault("clicks", defaults.campaign_clicks if bulk else defaults.transactional_clicks)
    return Choice(opens=bool(chosen["opens"]), clicks=bool(chosen["clicks"]))


def set_defaults(workspace_id: int, **values: bool) -> TrackingDefaults:
    """Change a workspace's defaults (``campaign_opens``, ``campaign_clicks``, ``transactional_*``)."""
    defaults, _created = TrackingDefaults.objects.update_or_create(workspace_id=workspace_id, defaults=values)
    _cache.pop(workspace_id, None)
    return defaults
