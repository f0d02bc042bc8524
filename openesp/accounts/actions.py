"""State changes of the tenancy: organizations, workspaces, memberships, invitations, and the
system mails (verification, password reset) that go with accounts.

Views, API routes and the CLI authorise and parse, then call these.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from email_validator import EmailNotValidError, validate_email

from openesp.accounts import outbox
from openesp.accounts.access import NotAllowed, managed_organization_for, membership_for
from openesp.accounts.models import (
    MANAGER_ROLES,
    Invitation,
    InvitationKind,
    InvitationStatus,
    Membership,
    Organization,
    Role,
    User,
    Workspace,
)
from openesp.lib.errors import InvalidInput
from openesp.lib.tokens import new_token, token_hash

INVITATION_PURPOSE = "invitation"
VERIFY_SALT = "openesp.verify-email"


def normalise_email(raw: str, field: str = "email") -> str:
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidInput.one(field, str(exc)) from None


def _clean_name(raw: str, field: str = "name") -> str:
    name = " ".join(raw.split())
    if not name:
        raise InvalidInput.one(field, _("must not be empty"))
    if len(name) > 200:
        raise InvalidInput.one(field, _("is longer than 200 characters"))
    return name


def absolute_url(path: str) -> str:
    return f"{settings.OPENESP_BASE_URL}{path}"


def _render_mail(template: str, context: dict[str, object], language: str) -> tuple[str, str]:
    """Subject and text body of a platform mail, in the recipient's language."""
    with translation.override(language or settings.LANGUAGE_CODE):
        subject = render_to_string(f"mail/{template}_subject.txt", context).strip()
        body = render_to_string(f"mail/{template}.txt", context)
    return " ".join(subject.split()), body


# --- accounts -------------------------------------------------------------------------------


def sign_up(email: str, password: str, name: str = "", language: str = "") -> User:
    address = normalise_email(email)
    with transaction.atomic():
        if User.objects.filter(email__iexact=address).exists():
            raise InvalidInput.one("email", _("an account with this address exists already"))
        user = User.objects.create_user(address, password, name=" ".join(name.split()), language=language)
        send_verification_mail(user)
    return user


def send_verification_mail(user: User) -> object:
    token = signing.dumps({"u": user.pk, "e": user.email}, salt=VERIFY_SALT)
    url = absolute_url(reverse("verify-email", args=[token]))
    subject, body = _render_mail("verify_email", {"user": user, "url": url}, user.language)
    return outbox.queue_mail(
        category=outbox.SYSTEM,
        to_email=user.email,
        subject=subject,
        text_body=body,
        user=user,
        metadata={outbox.PURPOSE_KEY: outbox.VERIFY_EMAIL, "user_id": str(user.pk)},
    )


def _address_verified(user: User) -> None:
    outbox.withdraw_mail(
        outbox.VERIFY_EMAIL, "the address was verified before this mail went out", user_id=str(user.pk)
    )


def verify_email(token: str, max_age_days: int = 7) -> User:
    try:
        data = signing.loads(token, salt=VERIFY_SALT, max_age=timedelta(days=max_age_days))
    except signing.BadSignature:
        raise InvalidInput.one("token", _("the link is invalid or has expired")) from None
    user = User.objects.filter(pk=data.get("u"), email=data.get("e")).first()
    if user is None:
        raise InvalidInput.one("token", _("the link is invalid or has expired"))
    with transaction.atomic():
        if not user.email_verified:
            user.email_verified = True
            user.save(update_fields=["email_verified"])
        _address_verified(user)
    return user


def send_password_reset_mail(email: str) -> object | None:
    """Queues a reset mail if an active account has this address; says nothing either way."""
    user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
    if user is None or not user.has_usable_password():
        return None
    uid = urlsafe_base64_encode(str(user.pk).encode())
    url = absolute_url(reverse("password-reset-confirm", args=[uid, default_token_generator.make_token(user)]))
    subject, body = _render_mail("password_reset", {"user": user, "url": url}, user.language)
    return outbox.queue_mail(
        category=outbox.SYSTEM,
        to_email=user.email,
        subject=subject,
        text_body=body,
        user=user,
        metadata={outbox.PURPOSE_KEY: outbox.PASSWORD_RESET, "user_id": str(user.pk)},
    )


def password_was_reset(user: User) -> None:
    """A reset link was used: the password changed, so every other reset link is dead too
    (Django's reset tokens hash the password) and their mails are withdrawn."""
    outbox.withdraw_mail(
        outbox.PASSWORD_RESET, "the password was reset before this mail went out", user_id=str(user.pk)
    )


# --- organizations and workspaces ------------------------------------------------------------


def create_organization(owner: User, name: str) -> Organization:
    with transaction.atomic():
        organization = Organization.objects.create(name=_clean_name(name))
        Membership.objects.create(organization=organization, user=owner, role=Role.OWNER)
    return organization


def rename_organization(actor: User, organization_id: int, name: str) -> Organization:
    organization = managed_organization_for(actor, organization_id).organization
    organization.name = _clean_name(name)
    organization.save(update_fields=["name"])
    return organization


def delete_organization(actor: User, organization_id: int) -> None:
    membership = membership_for(actor, organization_id)
    if membership.role != Role.OWNER:
        raise NotAllowed("only an owner may delete the organization")
    membership.organization.delete()


def create_workspace(actor: User, organization_id: int, name: str) -> Workspace:
    organization = managed_organization_for(actor, organization_id).organization
    return Workspace.objects.create(organization=organization, name=_clean_name(name))


def rename_workspace(actor: User, workspace: Workspace, name: str) -> Workspace:
    managed_organization_for(actor, workspace.organization_id)
    workspace.name = _clean_name(name)
    workspace.save(update_fields=["name"])
    return workspace


def delete_workspace(actor: User, workspace: Workspace) -> None:
    managed_organization_for(actor, workspace.organization_id)
    workspace.delete()


def _owners_left(organization: Organization, without: Membership) -> int:
    return organization.memberships.filter(role=Role.OWNER).exclude(pk=without.pk).count()


def change_membership(
    actor: User, membership: Membership, role: str | None = None, workspace_ids: list[int] | None = None
) -> Membership:
    """Change a member's role or workspace access. Owners alone make or unmake owners."""
    acting = managed_organization_for(actor, membership.organization_id)
    with transaction.atomic():
        if role is not None:
            if role not in Role.values:
                raise InvalidInput.one("role", _("must be owner, admin, member or viewer"))
            if Role.OWNER in (role, membership.role) and acting.role != Role.OWNER:
                raise NotAllowed("only an owner may make or unmake owners")
            if (
                membership.role == Role.OWNER
                and role != Role.OWNER
                and not _owners_left(membership.organization, membership)
            ):
                raise InvalidInput.one("role", _("an organization must keep at least one owner"))
            membership.role = role
            membership.save(update_fields=["role"])
        if workspace_ids is not None:
            workspaces = list(Workspace.objects.filter(organization=membership.organization, id__in=workspace_ids))
            if len(workspaces) != len(set(workspace_ids)):
                raise InvalidInput.one("workspaces", _("names a workspace that is not in this organization"))
            membership.workspaces.set(workspaces)
    return membership


def remove_membership(actor: User, membership: Membership) -> None:
    """Admins remove others; anyone may leave; the last owner may not."""
    if membership.user_id != actor.pk:
        acting = managed_organization_for(actor, membership.organization_id)
        if membership.role == Role.OWNER and acting.role != Role.OWNER:
            raise NotAllowed("only an owner may remove an owner")
    if membership.role == Role.OWNER and not _owners_left(membership.organization, membership):
        raise InvalidInput.one("membership", _("an organization must keep at least one owner"))
    membership.delete()


# --- invitations --------------------------------------------------------------------------------


def invite(
    actor: User,
    organization_id: int,
    email: str,
    role: str = Role.MEMBER,
    workspace: Workspace | None = None,
    language: str = "",
) -> tuple[Invitation, str]:
    """Create an invitation and queue its mail in the same transaction. Returns the token once."""
    acting = managed_organization_for(actor, organization_id)
    organization = acting.organization
    address = normalise_email(email)
    if role not in Role.values:
        raise InvalidInput.one("role", _("must be owner, admin, member or viewer"))
    if role == Role.OWNER and acting.role != Role.OWNER:
        raise NotAllowed("only an owner may invite an owner")
    if workspace is not None and workspace.organization_id != organization.pk:
        raise InvalidInput.one("workspace", _("is not in this organization"))
    existing = Membership.objects.filter(organization=organization, user__email__iexact=address).first()
    if existing is not None and (workspace is None or existing.role in MANAGER_ROLES):
        raise InvalidInput.one("email", _("this person is a member of the organization already"))
    if existing is not None and workspace is not None and existing.workspaces.filter(pk=workspace.pk).exists():
        raise InvalidInput.one("email", _("this person has access to the workspace already"))

    kind = InvitationKind.WORKSPACE if workspace is not None else InvitationKind.ORGANIZATION
    token = new_token()
    with transaction.atomic():
        # A new invitation to the same place replaces a pending one: one live link per person.
        replaced = Invitation.objects.filter(
            organization=organization,
            workspace=workspace,
            email__iexact=address,
            status=InvitationStatus.PENDING,
        )
        for old in list(replaced.values_list("pk", flat=True)):
            _invitation_answered(old, "replaced by a newer invitation")
        replaced.update(status=InvitationStatus.REVOKED, responded_at=timezone.now())
        invitation = Invitation.objects.create(
            kind=kind,
            organization=organization,
            workspace=workspace,
            email=address,
            role=role,
            token_hash=token_hash(token, INVITATION_PURPOSE),
            invited_by=actor,
            expires_at=timezone.now() + timedelta(days=settings.OPENESP_INVITATION_DAYS),
        )
        url = absolute_url(reverse("invitation", args=[token]))
        context = {"invitation": invitation, "inviter": actor, "url": url}
        template = "workspace_invitation" if workspace is not None else "org_invitation"
        subject, body = _render_mail(template, context, language or actor.language)
        outbox.queue_mail(
            category=outbox.WORKSPACE_INVITATION if workspace is not None else outbox.ORG_INVITATION,
            to_email=address,
            subject=subject,
            text_body=body,
            from_name=actor.display_name,
            user=actor,
            organization=organization,
            workspace=workspace,
            metadata={"invitation_id": str(invitation.pk), outbox.PURPOSE_KEY: outbox.INVITATION},
        )
    return invitation, token


def _invitation_answered(invitation_id: int, answer: str) -> None:
    outbox.withdraw_mail(
        outbox.INVITATION,
        f"the invitation was {answer} before this mail went out",
        invitation_id=str(invitation_id),
    )


def invitation_by_token(token: str) -> Invitation:
    invitation = (
        Invitation.objects.select_related("organization", "workspace", "invited_by")
        .filter(token_hash=token_hash(token, INVITATION_PURPOSE))
        .first()
    )
    if invitation is None:
        raise InvalidInput.one("token", _("this invitation link is not valid"))
    return invitation


def _check_open(invitation: Invitation) -> None:
    if invitation.status != InvitationStatus.PENDING:
        status = invitation.get_status_display().lower()
        raise InvalidInput.one("token", _("this invitation has been %(status)s") % {"status": status})
    if invitation.is_expired:
        raise InvalidInput.one("token", _("this invitation has expired; ask for a new one"))


def accept_invitation(user: User, token: str) -> Membership:
    with transaction.atomic():
        invitation = invitation_by_token(token)
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        _check_open(invitation)
        if invitation.email.lower() != user.email.lower():
            raise InvalidInput.one(
                "email",
                _("this invitation was sent to %(email)s; sign in with that address to accept it")
                % {"email": invitation.email},
            )
        membership, _created = Membership.objects.get_or_create(
            organization=invitation.organization, user=user, defaults={"role": invitation.role}
        )
        if invitation.workspace is not None:
            membership.workspaces.add(invitation.workspace)
        invitation.status = InvitationStatus.ACCEPTED
        invitation.responded_at = timezone.now()
        invitation.save(update_fields=["status", "responded_at"])
        _invitation_answered(invitation.pk, "accepted")
        if not user.email_verified:
            # The link arrived at this address: that proves the address is theirs.
            user.email_verified = True
            user.save(update_fields=["email_verified"])
        _address_verified(user)
    return membership


def decline_invitation(token: str) -> Invitation:
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation_by_token(token).pk)
        _check_open(invitation)
        invitation.status = InvitationStatus.DECLINED
        invitation.responded_at = timezone.now()
        invitation.save(update_fields=["status", "responded_at"])
        _invitation_answered(invitation.pk, "declined")
    return invitation


def revoke_invitation(actor: User, invitation: Invitation) -> Invitation:
    managed_organization_for(actor, invitation.organization_id)
    if invitation.status != InvitationStatus.PENDING:
        status = invitation.get_status_display().lower()
        raise InvalidInput.one("invitation", _("is %(status)s, not pending") % {"status": status})
    with transaction.atomic():
        invitation.status = InvitationStatus.REVOKED
        invitation.responded_at = timezone.now()
        invitation.save(update_fields=["status", "responded_at"])
        _invitation_answered(invitation.pk, "revoked")
    return invitation


def create_user_cli(email: str, password: str) -> User:
    """Users made by the operator on the command line count as verified."""
    address = normalise_email(email)
    try:
        with transaction.atomic():
            return User.objects.create_user(address, password, email_verified=True)
    except IntegrityError:
        raise InvalidInput.one("email", _("an account with this address exists already")) from None
