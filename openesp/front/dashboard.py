"""The numbers of the dashboard: per workspace its contacts, its messages today and in the last 7
days by status, its last import and the provider its mail goes through (with the reason); and
the next steps of a user who has not got that far yet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from openesp.accounts.apikeys import api_keys_for
from openesp.accounts.models import Organization, User, Workspace
from openesp.audience.models import ImportJob
from openesp.audience.queries import contacts_of, imports_of
from openesp.esp.effective import Effective, effective_provider
from openesp.front.display import ProviderView, describe_effective
from openesp.messaging.models import Status
from openesp.messaging.queries import has_messages, status_counts

SHOWN = 12  # workspaces with numbers on the dashboard; the rest are listed by name


@dataclass
class WorkspaceNumbers:
    workspace: Workspace
    contacts: int
    today: list[tuple[str, str, int]]  # (status, label, count), statuses that occur only
    week: list[tuple[str, str, int]]
    today_total: int
    week_total: int
    last_import: ImportJob | None
    provider: ProviderView
    effective: Effective


@dataclass
class Step:
    text: str
    url: str
    done: bool


def _by_status(counts: dict[str, int]) -> list[tuple[str, str, int]]:
    return [(value, str(label), counts[value]) for value, label in Status.choices if counts.get(value)]


def _start_of_today(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def workspace_numbers(user: User, workspaces: list[Workspace]) -> list[WorkspaceNumbers]:
    now = timezone.now()
    today, week = _start_of_today(now), now - timedelta(days=7)
    providers: dict[int, Effective] = {}
    numbers: list[WorkspaceNumbers] = []
    for workspace in workspaces[:SHOWN]:
        organization: Organization = workspace.organization
        if organization.pk not in providers:
            providers[organization.pk] = effective_provider(user, organization)
        effective = providers[organization.pk]
        today_counts, week_counts = status_counts(workspace, today), status_counts(workspace, week)
        numbers.append(
            WorkspaceNumbers(
                workspace=workspace,
                contacts=contacts_of(workspace).count(),
                today=_by_status(today_counts),
                week=_by_status(week_counts),
                today_total=sum(today_counts.values()),
                week_total=sum(week_counts.values()),
                last_import=imports_of(workspace).first(),
                provider=describe_effective(effective),
                effective=effective,
            )
        )
    return numbers


def next_steps(user: User, has_organization: bool, numbers: list[WorkspaceNumbers]) -> list[Step]:
    """What a new user does next, in order; empty once everything is done."""
    first = numbers[0] if numbers else None
    provider_ok = effective_provider(user, first.workspace.organization if first else None).kind != "none"
    steps = [
        Step(_("Confirm your e-mail address"), reverse("account"), user.email_verified),
        Step(_("Create an organization"), reverse("org-list"), has_organization),
        Step(_("Create a workspace"), reverse("org-list"), first is not None),
        Step(
            _("Set up an email provider"),
            reverse("org-settings", args=[first.workspace.organization_id]) if first else reverse("email-status"),
            provider_ok,
        ),
        Step(
            _("Add or import contacts"),
            reverse("ws-imports", args=[first.workspace.pk]) if first else reverse("org-list"),
            any(n.contacts for n in numbers),
        ),
        Step(_("Create an API key"), reverse("api-keys"), api_keys_for(user).exists()),
        Step(
            _("Send a first message"),
            reverse("ws-send", args=[first.workspace.pk]) if first else reverse("org-list"),
            has_messages([n.workspace for n in numbers]),
        ),
    ]
    return [] if all(step.done for step in steps) else steps
