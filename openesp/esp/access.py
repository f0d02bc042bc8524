"""Looking up provider configs through the caller (``accounts.access``).

A config belongs to one user (their personal choice) or to one organization. A user's own
config needs no check beyond being theirs; an organization's is read by any member and
changed or tested by its owners and admins. A config the caller may not reach answers the same
``Http404`` as a missing id.
"""

from __future__ import annotations

from django.http import Http404

from openesp.accounts.access import Actor, NotAllowed, as_actor, as_pk, membership_for
from openesp.accounts.models import Organization, User
from openesp.esp.models import EspConfig

# Why a member who is no owner or admin may not test the organization's provider.
TEST_REFUSAL = "only an owner or an admin of the organization may test its provider"


def personal_config(user: User) -> EspConfig | None:
    """The user's own provider config, if they have chosen one."""
    return EspConfig.objects.filter(user=user).first()


def organization_config(organization: Organization) -> EspConfig | None:
    """The provider config of an organization the caller has reached (``membership_for``), if
    one is chosen."""
    return EspConfig.objects.filter(organization=organization).first()


def access_managed_config(actor: Actor | User, config_id: object, refusal: str = TEST_REFUSAL) -> EspConfig:
    """A saved config the actor manages: its own personal one (not for a confined actor: a
    workspace key has no personal settings), or that of an organization it belongs to and may
    reach, where ``NotAllowed(refusal)`` unless it is an owner or an admin.

    Http404 ("provider config not found") alike for a missing id and anybody else's config.
    """
    who = as_actor(actor)
    missing = Http404("provider config not found")
    pk = as_pk(config_id)
    config = EspConfig.objects.filter(pk=pk).first() if pk is not None else None
    if config is None:
        raise missing
    if config.user_id is not None:
        if config.user_id != who.user.pk or who.organization_id is not None:
            raise missing
        return config
    assert config.organization_id is not None
    try:
        membership = membership_for(who.user, who.reach(config.organization_id))
    except Http404:
        raise missing from None
    if not membership.is_manager:
        raise NotAllowed(refusal)
    return config
