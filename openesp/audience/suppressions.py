"""The one writer of suppressions: every address added to or lifted from a suppression list,
from every path (API, web UI, CLI, import, unsubscribe link, preference page, complaints, hard
bounces), goes through here, and each change leaves its ``SuppressionAudit`` row.

``add_suppression``/``suppress`` write one address; ``suppress_many`` writes a batch in a few
statements, for callers that learn about many addresses at once (the delivery engine's hard
bounces, an import). An address suppressed already keeps its first suppression and gets no second
audit row, except where the caller names reasons the new one ``replaces`` (a complaint is a
stronger statement than an unsubscription).

Callers have authorised the change and looked the workspace up through the tenant.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Literal

from django.db import transaction
from django.utils import timezone

from openesp.accounts.models import User, Workspace
from openesp.audience.actions import normalise_email
from openesp.audience.models import ConsentSource, Suppression, SuppressionAudit, SuppressionReason
from openesp.lib.errors import InvalidInput
from openesp.messaging.models import Event


class GlobalSuppression(Exception):
    """The address is suppressed by the operator for everyone; only the operator removes that."""


def _audit(
    workspace_id: int | None,
    email: str,
    action: str,
    reason: str,
    *,
    source: str,
    detail: str,
    actor_id: int | None,
    created_at: datetime | None = None,
) -> SuppressionAudit:
    return SuppressionAudit(
        workspace_id=workspace_id,
        email=email,
        action=action,
        reason=reason,
        source=source,
        source_detail=detail[:200],
        actor_id=actor_id,
        created_at=created_at or timezone.now(),
    )


# How ``suppress`` reads the address: ``checked`` validates it (a person typed it); ``lenient``
# validates it but takes it as written when that fails (it was mailed once, so stopping mail to
# it matters more than its form); ``as_sent`` takes it as written (it is a message's recipient,
# which the delivery engine matches lower-cased).
AddressCheck = Literal["checked", "lenient", "as_sent"]


def _key(email: str, check: AddressCheck) -> str:
    if check == "as_sent":
        return email.strip().lower()
    try:
        return normalise_email(email)[1]
    except InvalidInput:
        if check == "checked":
            raise
        return email.strip().lower()


@transaction.atomic
def suppress(
    workspace: Workspace | None,
    email: str,
    reason: str = SuppressionReason.MANUAL,
    *,
    source: str = ConsentSource.API,
    detail: str = "",
    actor: User | None = None,
    source_event: Event | None = None,
    audit_detail: str | None = None,
    replaces: Collection[str] = (),
    check: AddressCheck = "checked",
) -> tuple[Suppression, bool]:
    """Suppress an address in a workspace (None: for everyone): the suppression, and whether this
    call added it (or changed its reason).

    ``source`` and ``detail`` are kept with the suppression and its audit row (``audit_detail``
    when the audit row should say something else). An existing suppression is kept as it is,
    unless its reason is in ``replaces``: then it takes ``reason`` and ``source_event``.
    ``check``: how the address is read (see ``AddressCheck``).
    """
    key = _key(email, check)
    if reason not in SuppressionReason.values:
        raise InvalidInput.one("reason", f"must be one of {', '.join(SuppressionReason.values)}")
    suppression, created = Suppression.objects.get_or_create(
        workspace=workspace,
        email=key,
        defaults={
            "reason": reason,
            "source": source,
            "detail": detail,
            "created_by": actor,
            "source_event": source_event,
        },
    )
    if not created and suppression.reason in replaces and suppression.reason != reason:
        suppression.reason, suppression.source_event = reason, source_event
        suppression.save(update_fields=["reason", "source_event"])
        created = True
    if created:
        _audit(
            suppression.workspace_id,
            key,
            SuppressionAudit.Action.ADD,
            reason,
            source=source,
            detail=detail if audit_detail is None else audit_detail,
            actor_id=actor.pk if actor is not None else None,
        ).save()
    return suppression, created


def add_suppression(
    workspace: Workspace | None,
    email: str,
    reason: str = SuppressionReason.MANUAL,
    *,
    source: str = ConsentSource.API,
    detail: str = "",
    actor: User | None = None,
) -> Suppression:
    """Suppress an address in a workspace (None: for everyone). An existing one is kept as it is."""
    return suppress(workspace, email, reason, source=source, detail=detail, actor=actor)[0]


@transaction.atomic
def suppress_many(rows: Iterable[Suppression], *, audit_source: str | None = None) -> list[Suppression]:
    """Add a batch of suppressions, each new one with its audit row, in a few statements.

    ``rows`` are unsaved ``Suppression`` objects with the address already lower-case (as a
    delivery result or an import has it); for the same workspace and address the last one counts.
    Addresses suppressed already keep their first suppression and get no audit row. Each audit
    row takes the suppression's reason, detail, creator and time; its source is ``audit_source``,
    or the row's own ``source`` when that is not given (the delivery engine's rows carry their
    event instead of a source, and are audited as ``delivery``). Returns the rows added.
    """
    wanted = {(s.workspace_id, s.email): s for s in rows}
    if not wanted:
        return []
    existing = set(
        Suppression.objects.filter(
            workspace_id__in={w for w, _e in wanted if w is not None}, email__in={e for _w, e in wanted}
        ).values_list("workspace_id", "email")
    )
    if any(w is None for w, _e in wanted):
        existing |= set(
            Suppression.objects.filter(
                workspace__isnull=True, email__in={e for w, e in wanted if w is None}
            ).values_list("workspace_id", "email")
        )
    new = [s for key, s in wanted.items() if key not in existing]
    Suppression.objects.bulk_create(new, ignore_conflicts=True)
    SuppressionAudit.objects.bulk_create(
        _audit(
            s.workspace_id,
            s.email,
            SuppressionAudit.Action.ADD,
            s.reason,
            source=audit_source if audit_source is not None else s.source,
            detail=s.detail,
            actor_id=s.created_by_id,
            created_at=s.created_at,
        )
        for s in new
    )
    return new


@transaction.atomic
def remove_suppression(
    workspace: Workspace, email: str, *, source: str = ConsentSource.API, detail: str = "", actor: User | None = None
) -> bool:
    """Lift the workspace's suppression of an address: True if there was one.

    GlobalSuppression when only the operator's suppression holds the address.
    """
    _address, key = normalise_email(email)
    suppression = Suppression.objects.select_for_update().filter(workspace=workspace, email=key).first()
    if suppression is None:
        if Suppression.objects.filter(workspace__isnull=True, email=key).exists():
            raise GlobalSuppression("the operator suppresses this address for all workspaces; only they can lift it")
        return False
    lift(suppression, source=source, detail=detail, actor=actor)
    return True


@transaction.atomic
def remove_global_suppression(email: str, *, source: str, detail: str = "") -> bool:
    """Lift the operator's suppression of an address for all workspaces: True if there was one.

    Only the operator does this (``openesp suppressions remove --global``); workspaces cannot
    (``remove_suppression`` refuses with ``GlobalSuppression``).
    """
    _address, key = normalise_email(email)
    suppression = Suppression.objects.select_for_update().filter(workspace__isnull=True, email=key).first()
    if suppression is None:
        return False
    lift(suppression, source=source, detail=detail)
    return True


def lift(suppression: Suppression, *, source: str, detail: str = "", actor: User | None = None) -> None:
    """Delete a suppression with its audit row (the caller has decided it may go)."""
    _audit(
        suppression.workspace_id,
        suppression.email,
        SuppressionAudit.Action.REMOVE,
        suppression.reason,
        source=source,
        detail=detail,
        actor_id=actor.pk if actor is not None else None,
    ).save()
    suppression.delete()
