"""The web UI. Names ``home``, ``login``, ``verify-email``, ``password-reset-confirm`` and
``invitation`` are reversed by the mails in ``openesp.accounts.actions``; ``unsubscribe`` by the
message builder (``openesp.audience.unsubscribe``)."""

from __future__ import annotations

from django.urls import include, path

from openesp.front.views import (
    account,
    apikeys,
    auth,
    automations,
    campaign_templates,
    campaigns,
    category_messages,
    contacts,
    domains,
    esp,
    imports,
    invitation,
    lists,
    messages,
    orgs,
    outbox,
    preferences,
    respond,
    segments,
    send,
    stats,
    suppressions,
    unsubscribe,
    webhooks,
)

urlpatterns = [
    path("", account.home, name="home"),
    # Signing up, in and out
    path("signup/", auth.signup, name="signup"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.logout_view, name="logout"),
    path("password-reset/", auth.password_reset, name="password-reset"),
    path(
        "reset/<str:uidb64>/<str:token>/",
        auth.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    # The language switch of the pages before log-in (Django's set_language)
    path("i18n/", include("django.conf.urls.i18n")),
    path("verify/resend/", auth.resend_verification, name="verify-email-resend"),
    path("verify/<str:token>/", auth.verify_email, name="verify-email"),
    path("invitations/<str:token>/", invitation.invitation, name="invitation"),
    # The List-Unsubscribe link in sent mail (public; reversed by openesp.audience.unsubscribe)
    path("u/<str:token>/", unsubscribe.unsubscribe, name="unsubscribe"),
    # Account
    path("account/", account.account, name="account"),
    path("account/email/", esp.email_status, name="email-status"),
    path("account/email/provider/", esp.email_choose, name="email-choose"),
    path("account/email/provider/custom/", esp.email_custom, name="email-custom"),
    path("account/email/test/", esp.email_test, name="email-test"),
    path("account/email/remove/", esp.email_remove, name="email-remove"),
    path("account/email/fallback/", esp.email_fallback, name="email-fallback"),
    path("account/email/bounce-mailbox/", esp.email_bounce_mailbox, name="email-bounce-mailbox"),
    path("account/api-keys/", apikeys.api_keys, name="api-keys"),
    path("account/api-keys/<int:key_id>/revoke/", apikeys.api_key_revoke, name="api-key-revoke"),
    # The operator's Outbox: platform mail no provider can carry (superusers only)
    path("outbox/", outbox.outbox, name="outbox"),
    # Organizations
    path("organizations/", orgs.organization_list, name="org-list"),
    path("organizations/<int:org_id>/", orgs.organization_detail, name="org-detail"),
    path("organizations/<int:org_id>/delete/", orgs.organization_delete, name="org-delete"),
    path("organizations/<int:org_id>/workspaces/", orgs.workspace_list, name="org-workspaces"),
    path("organizations/<int:org_id>/workspaces/<int:ws_id>/", orgs.workspace_detail, name="org-workspace"),
    path(
        "organizations/<int:org_id>/workspaces/<int:ws_id>/delete/",
        orgs.workspace_delete,
        name="org-workspace-delete",
    ),
    path("organizations/<int:org_id>/members/", orgs.member_list, name="org-members"),
    path("organizations/<int:org_id>/members/<int:member_id>/", orgs.member_change, name="org-member-change"),
    path(
        "organizations/<int:org_id>/members/<int:member_id>/remove/",
        orgs.member_remove,
        name="org-member-remove",
    ),
    path("organizations/<int:org_id>/invitations/", orgs.invitation_list, name="org-invitations"),
    path(
        "organizations/<int:org_id>/invitations/<int:invitation_id>/revoke/",
        orgs.invitation_revoke,
        name="org-invitation-revoke",
    ),
    path("organizations/<int:org_id>/settings/", esp.org_settings, name="org-settings"),
    path("organizations/<int:org_id>/settings/email/", esp.org_email_choose, name="org-email-choose"),
    path("organizations/<int:org_id>/settings/email/custom/", esp.org_email_custom, name="org-email-custom"),
    path("organizations/<int:org_id>/settings/email/test/", esp.org_email_test, name="org-email-test"),
    path("organizations/<int:org_id>/settings/email/enforce/", esp.org_email_enforce, name="org-email-enforce"),
    path("organizations/<int:org_id>/settings/email/remove/", esp.org_email_remove, name="org-email-remove"),
    path("organizations/<int:org_id>/settings/email/fallback/", esp.org_email_fallback, name="org-email-fallback"),
    path(
        "organizations/<int:org_id>/settings/email/bounce-mailbox/",
        esp.org_email_bounce_mailbox,
        name="org-email-bounce-mailbox",
    ),
    # The message log of a workspace; a message by its public id (a UUID, parsed by the view so
    # that a malformed one is the same 404 as a missing one)
    path("workspaces/<int:ws_id>/messages/", messages.message_list, name="ws-messages"),
    path("workspaces/<int:ws_id>/stats/", stats.stats_page, name="ws-stats"),
    path("workspaces/<int:ws_id>/messages/<str:message_id>/", messages.message_detail, name="ws-message"),
    path("workspaces/<int:ws_id>/send/", send.send, name="ws-send"),
]
# The audience areas keep their routes beside their views.
urlpatterns += contacts.urlpatterns + lists.urlpatterns + suppressions.urlpatterns
urlpatterns += imports.urlpatterns + segments.urlpatterns + preferences.urlpatterns
urlpatterns += automations.urlpatterns + category_messages.urlpatterns
# Outbound webhook endpoints and sending domains with their DNS health.
urlpatterns += webhooks.urlpatterns + domains.urlpatterns
# Templates, campaigns, and the hosted response page /r/<token>/ (public; its URL is made by
# openesp.campaigns.tokens.response_url).
urlpatterns += campaign_templates.urlpatterns + campaigns.urlpatterns + respond.urlpatterns
