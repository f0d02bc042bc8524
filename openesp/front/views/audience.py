"""Contacts, lists and suppressions of a workspace.

The workspace comes through ``workspace_for`` and every contact and list through that
workspace, so an outsider, a member without the workspace, a foreign id and a missing one all
get the same 404 — also for a contact of another workspace named under one's own workspace.
Viewers see everything and change nothing: the buttons are hidden and a POST gets the 403
page. Views parse and authorise; ``audience.actions`` and ``audience.admin_actions`` change state.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from openesp.accounts.access import NotAllowed, membership_for, workspace_for
from openesp.accounts.models import Role, User, Workspace
from openesp.audience import actions, admin_actions, doubleoptin, queries, suppressions
from openesp.audience.actions import ContactExists
from openesp.audience.consent import Consent
from openesp.audience.models import (
    ConsentSource,
    Contact,
    ContactList,
    Subscription,
    SubscriptionStatus,
    Suppression,
)
from openesp.audience.suppressions import GlobalSuppression
from openesp.front.forms import (
    ATTRIBUTE_TYPES,
    AttributeRows,
    ContactEditForm,
    ContactFilterForm,
    ContactForm,
    ListForm,
    SubscriberForm,
    SuppressionForm,
)
from openesp.front.helpers import add_problems, int_or_none, member_view, the_user
from openesp.lib.downloads import csv_download
from openesp.lib.errors import FieldProblem, InvalidInput

PAGE_SIZE = 50
VIEWER_REFUSAL = "viewers cannot change the audience of this workspace"


# --- lookups through the workspace --------------------------------------------------------------


def _workspace(request: HttpRequest, ws_id: int) -> tuple[Workspace, bool]:
    """The workspace, and whether the caller may change its audience (viewers may not)."""
    user = the_user(request)
    workspace = workspace_for(user, ws_id)
    can_edit = membership_for(user, workspace.organization_id).role != Role.VIEWER
    return workspace, can_edit


def _may_change(can_edit: bool) -> None:
    if not can_edit:
        raise NotAllowed(_("Viewers can look at the audience of this workspace but not change it."))


def _contact_in(workspace: Workspace, contact_id: int) -> Contact:
    contact = Contact.objects.filter(workspace=workspace, pk=contact_id).first()
    if contact is None:
        raise Http404("contact not found")
    return contact


def _list_in(workspace: Workspace, list_id: int | None) -> ContactList:
    contact_list = ContactList.objects.filter(workspace=workspace, pk=list_id).first() if list_id else None
    if contact_list is None:
        raise Http404("list not found")
    return contact_list


def _context(workspace: Workspace, can_edit: bool, **extra: Any) -> dict[str, Any]:
    return {
        "workspace": workspace,
        "organization": workspace.organization,
        "can_edit": can_edit,
        "section": "audience",
        **extra,
    }


def _consent(user: User) -> Consent:
    """Changes made in the web UI are the workspace's people acting, recorded as ``admin``."""
    return Consent(source=ConsentSource.ADMIN, detail=f"web UI, {user.email}"[:200], actor=user)


def _translated(exc: InvalidInput) -> InvalidInput:
    """The actions' reasons in the page's language, where the catalogue has them (the API keeps
    them in English; a reason with a value in it, such as email-validator's, may stay English)."""
    return InvalidInput([FieldProblem(p.field, _(str(p.reason))) for p in exc.problems])


def _problems(exc: InvalidInput) -> str:
    return "; ".join(f"{p.field}: {p.reason}" for p in _translated(exc).problems)


# --- contacts -------------------------------------------------------------------------------------


@require_GET
@member_view
def contact_list(request: HttpRequest, ws_id: int) -> HttpResponse:
    workspace, can_edit = _workspace(request, ws_id)
    lists = list(ContactList.objects.filter(workspace=workspace).order_by("name", "id"))
    form = ContactFilterForm(request.GET, lists=[(str(cl.pk), cl.name) for cl in lists])
    # An invalid filter is shown next to its field and left out; the valid ones still apply.
    form.is_valid()
    filters: dict[str, Any] = dict(form.cleaned_data)
    filters["list"] = next((cl for cl in lists if str(cl.pk) == filters.get("list")), None)
    try:
        filters["attribute"] = queries.parse_attribute_filter(filters.get("attribute") or "")
    except InvalidInput as exc:
        add_problems(form, _translated(exc))
        filters["attribute"] = None
    contacts = queries.contacts_matching(workspace, filters)
    page = Paginator(contacts, PAGE_SIZE).get_page(request.GET.get("page"))
    context = _context(
        workspace,
        can_edit,
        form=form,
        page=page,
        filtered=any(request.GET.get(name) for name in form.fields),
    )
    return render(request, "front/audience/contacts.html", context)


@require_http_methods(["GET", "POST"])
@member_view
def contact_new(request: HttpRequest, ws_id: int) -> HttpResponse:
    workspace, can_edit = _workspace(request, ws_id)
    _may_change(can_edit)
    lists = list(ContactList.objects.filter(workspace=workspace).order_by("name", "id"))
    form = ContactForm(request.POST if request.method == "POST" else None)
    rows = AttributeRows.from_post(request.POST) if request.method == "POST" else AttributeRows([])
    chosen = {int_or_none(v) for v in request.POST.getlist("lists")}
    existing: Contact | None = None  # the contact that has the address, to link to
    attributes = rows.values() if request.method == "POST" else None
    if form.is_valid() and attributes is not None:
        try:
            contact = actions.create_contact(
                workspace,
                form.cleaned_data["email"],
                name=form.cleaned_data["name"],
                language=form.cleaned_data["language"],
                time_zone=form.cleaned_data["time_zone"],
                attributes=attributes,
                lists=[cl for cl in lists if cl.pk in chosen],
                consent=_consent(the_user(request)),
            )
        except ContactExists as exc:
            form.add_error("email", _("A contact with this address exists already."))
            existing = exc.contact
        except InvalidInput as exc:
            _attribute_problems(form, rows, exc)
        else:
            messages.success(request, _("The contact %(email)s has been added.") % {"email": contact.email})
            return redirect("ws-contact", workspace.pk, contact.pk)
    invalid = request.method == "POST"
    context = _context(
        workspace,
        can_edit,
        form=form,
        rows=rows.shown(),
        attribute_errors=rows.errors,
        attribute_types=ATTRIBUTE_TYPES,
        lists=[(cl, cl.pk in chosen) for cl in lists],
        existing=existing,
    )
    return render(request, "front/audience/contact_new.html", context, status=400 if invalid else 200)


def _attribute_problems(form: ContactForm, rows: AttributeRows, exc: InvalidInput) -> None:
    """The action's problems next to their fields; those of attributes beside the attribute rows."""
    others = [p for p in exc.problems if not p.field.startswith("attributes")]
    rows.errors.extend(
        f"{p.field.removeprefix('attributes.')}: {_(str(p.reason))}" for p in exc.problems if p not in others
    )
    if others:
        add_problems(form, _translated(InvalidInput(others)))


@require_http_methods(["GET", "POST"])
@member_view
def contact_detail(request: HttpRequest, ws_id: int, contact_id: int) -> HttpResponse:
    workspace, can_edit = _workspace(request, ws_id)
    contact = _contact_in(workspace, contact_id)
    initial = {f: getattr(contact, f) for f in ("email", "name", "language", "time_zone", "status")}
    form = ContactEditForm(initial=initial)
    rows = AttributeRows.from_attributes(contact.attributes)
    status = 200
    if request.method == "POST":
        _may_change(can_edit)
        form = ContactEditForm(request.POST)
        rows = AttributeRows.from_post(request.POST)
        if form.is_valid():
            attributes = rows.values()
            if attributes is not None:
                # The form holds all attributes: those no longer in it are removed.
                attributes |= {key: None for key in contact.attributes if key not in attributes}
                changes = {**form.cleaned_data, "attributes": attributes}
                if changes["status"] == request.POST.get("status_shown"):
                    # Left as the page showed it: a bounce or a complaint recorded since then wins.
                    del changes["status"]
                try:
                    actions.update_contact(contact, changes)
                except ContactExists:
                    form.add_error("email", _("Another contact has this address."))
                except InvalidInput as exc:
                    _attribute_problems(form, rows, exc)
                else:
                    messages.success(request, _("The contact has been saved."))
                    return redirect("ws-contact", workspace.pk, contact.pk)
        contact.refresh_from_db()  # what is stored, whatever the rejected form said
        status = 400
    suppressions = queries.suppressions_of(workspace, contact.email_key)
    context = _context(
        workspace,
        can_edit,
        contact=contact,
        form=form,
        rows=rows.shown(),
        attribute_errors=rows.errors,
        attribute_types=ATTRIBUTE_TYPES,
        subscriptions=queries.subscriptions_by_list(contact),
        categories=actions.categories_of(contact),
        ledger=queries.ledger(contact),
        suppressions=suppressions,
        sent=queries.messages_to(contact),
    )
    return render(request, "front/audience/contact.html", context, status=status)


@require_POST
@member_view
def contact_subscription(request: HttpRequest, ws_id: int, contact_id: int) -> HttpResponse:
    """Subscribe to or unsubscribe from one list; back to the contact, or to the list's page."""
    workspace, can_edit = _workspace(request, ws_id)
    contact = _contact_in(workspace, contact_id)
    contact_list = _list_in(workspace, int_or_none(request.POST.get("list")))
    _may_change(can_edit)
    consent = _consent(the_user(request))
    action = request.POST.get("action")
    if action == "unsubscribe":
        actions.unsubscribe(contact, contact_list, consent)
        messages.success(request, _("Unsubscribed from %(list)s.") % {"list": contact_list.name})
    elif action == "resend":
        _resend(request, contact, contact_list)
    else:
        subscription = actions.subscribe(contact, contact_list, consent)
        if subscription.status == SubscriptionStatus.PENDING:
            messages.success(
                request, _("Subscribed to %(list)s: pending until confirmed.") % {"list": contact_list.name}
            )
        else:
            messages.success(request, _("Subscribed to %(list)s.") % {"list": contact_list.name})
    # Only these two places: never a redirect to a URL taken from the request.
    if request.POST.get("back") == "list":
        return redirect("ws-list", workspace.pk, contact_list.pk)
    return redirect("ws-contact", workspace.pk, contact.pk)


def _resend(request: HttpRequest, contact: Contact, contact_list: ContactList) -> None:
    """The double opt-in confirmation mail again, within the bound on how often it may go."""
    subscription = Subscription.objects.filter(contact=contact, contact_list=contact_list).first()
    try:
        if subscription is None:
            raise doubleoptin.NotPending("never subscribed")
        doubleoptin.resend_confirmation(subscription)
    except doubleoptin.NotPending:
        messages.error(request, _("%(list)s: there is no confirmation to wait for.") % {"list": contact_list.name})
    except doubleoptin.TooSoon as exc:
        text = _("A confirmation mail went out recently; try again in %(minutes)s minutes.")
        messages.error(request, text % {"minutes": max(1, -(-exc.retry_after // 60))})
    else:
        messages.success(
            request, _("The confirmation mail has been sent again to %(email)s.") % {"email": contact.email}
        )


@require_GET
@member_view
def contact_export(request: HttpRequest, ws_id: int, contact_id: int) -> HttpResponse:
    """Everything held about the contact (GDPR Art. 15 and 20), as a JSON file."""
    workspace, _can_edit = _workspace(request, ws_id)
    contact = _contact_in(workspace, contact_id)
    body = json.dumps(actions.export_contact_data(contact), indent=2, ensure_ascii=False)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="contact-{contact.pk}.json"'
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
@member_view
def contact_erase(request: HttpRequest, ws_id: int, contact_id: int) -> HttpResponse:
    """A confirmation page; its POST erases (GDPR Art. 17)."""
    workspace, can_edit = _workspace(request, ws_id)
    contact = _contact_in(workspace, contact_id)
    _may_change(can_edit)
    if request.method == "POST":
        user = the_user(request)
        email = contact.email
        actions.erase_contact(contact, user, Consent(source=ConsentSource.ADMIN, detail="web UI", actor=user))
        messages.success(request, _("The contact %(email)s has been erased.") % {"email": email})
        return redirect("ws-contacts", workspace.pk)
    context = _context(
        workspace,
        can_edit,
        contact=contact,
        n_subscriptions=contact.subscriptions.count(),
        n_records=contact.consent_records.count(),
    )
    return render(request, "front/audience/contact_erase.html", context)


@require_GET
@login_required  # not member_view, which is typed for HttpResponse; every member may export, no refusal to show
def contacts_export(request: HttpRequest, ws_id: int) -> HttpResponseBase:
    workspace, _can_edit = _workspace(request, ws_id)
    return csv_download(actions.export_contacts_csv(workspace), f"contacts-{workspace.pk}.csv")


# --- lists ----------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@member_view
def list_index(request: HttpRequest, ws_id: int) -> HttpResponse:
    workspace, can_edit = _workspace(request, ws_id)
    form = ListForm()
    if request.method == "POST":
        _may_change(can_edit)
        form = ListForm(request.POST)
        if form.is_valid():
            try:
                contact_list = actions.create_list(
                    workspace, form.cleaned_data["name"], double_opt_in=form.cleaned_data["double_opt_in"]
                )
            except InvalidInput as exc:
                add_problems(form, _translated(exc))
            else:
                messages.success(request, _("The list %(name)s has been made.") % {"name": contact_list.name})
                return redirect("ws-list", workspace.pk, contact_list.pk)
    context = _context(workspace, can_edit, form=form, lists=queries.lists_with_counts(workspace))
    return render(request, "front/audience/lists.html", context, status=400 if form.errors else 200)


def _list_page(
    request: HttpRequest, workspace: Workspace, can_edit: bool, contact_list: ContactList, **forms: Any
) -> dict[str, Any]:
    status = request.GET.get("status", "")
    subscriptions = Subscription.objects.filter(contact_list=contact_list).select_related("contact")
    if status in SubscriptionStatus.values:
        subscriptions = subscriptions.filter(status=status)
    else:
        status = ""
    page = Paginator(subscriptions.order_by("contact__email_key", "id"), PAGE_SIZE).get_page(request.GET.get("page"))
    counted = queries.lists_with_counts(workspace).get(pk=contact_list.pk)
    return _context(
        workspace,
        can_edit,
        contact_list=counted,
        page=page,
        status=status,
        statuses=SubscriptionStatus.choices,
        settings_form=forms.get("settings_form")
        or ListForm(initial={"name": contact_list.name, "double_opt_in": contact_list.double_opt_in}),
        subscriber_form=forms.get("subscriber_form") or SubscriberForm(),
    )


@require_http_methods(["GET", "POST"])
@member_view
def list_detail(request: HttpRequest, ws_id: int, list_id: int) -> HttpResponse:
    """The list's subscribers; its POST renames the list or switches double opt-in."""
    workspace, can_edit = _workspace(request, ws_id)
    contact_list = _list_in(workspace, list_id)
    if request.method == "POST":
        _may_change(can_edit)
        form = ListForm(request.POST)
        if form.is_valid():
            try:
                actions.update_list(
                    contact_list, name=form.cleaned_data["name"], double_opt_in=form.cleaned_data["double_opt_in"]
                )
            except InvalidInput as exc:
                add_problems(form, _translated(exc))
            else:
                messages.success(request, _("The list has been saved."))
                return redirect("ws-list", workspace.pk, contact_list.pk)
        contact_list.refresh_from_db()
        context = _list_page(request, workspace, can_edit, contact_list, settings_form=form)
        return render(request, "front/audience/list.html", context, status=400)
    return render(request, "front/audience/list.html", _list_page(request, workspace, can_edit, contact_list))


@require_POST
@member_view
def list_subscribe(request: HttpRequest, ws_id: int, list_id: int) -> HttpResponse:
    """Add a subscriber by address: the address's contact, made if the workspace has none."""
    workspace, can_edit = _workspace(request, ws_id)
    contact_list = _list_in(workspace, list_id)
    _may_change(can_edit)
    form = SubscriberForm(request.POST)
    if form.is_valid():
        try:
            subscription = admin_actions.subscribe_address(
                contact_list, form.cleaned_data["email"], _consent(the_user(request))
            )
        except InvalidInput as exc:
            add_problems(form, _translated(exc))
        else:
            email = subscription.contact.email
            if subscription.status == SubscriptionStatus.PENDING:
                messages.success(request, _("%(email)s is pending until confirmed.") % {"email": email})
            else:
                messages.success(request, _("%(email)s is subscribed.") % {"email": email})
            return redirect("ws-list", workspace.pk, contact_list.pk)
    context = _list_page(request, workspace, can_edit, contact_list, subscriber_form=form)
    return render(request, "front/audience/list.html", context, status=400)


@require_http_methods(["GET", "POST"])
@member_view
def list_delete(request: HttpRequest, ws_id: int, list_id: int) -> HttpResponse:
    """A confirmation page; its POST deletes the list and its subscriptions (the contacts stay)."""
    workspace, can_edit = _workspace(request, ws_id)
    contact_list = _list_in(workspace, list_id)
    _may_change(can_edit)
    if request.method == "POST":
        name = contact_list.name
        admin_actions.delete_list(contact_list)
        messages.success(request, _("The list %(name)s has been deleted.") % {"name": name})
        return redirect("ws-lists", workspace.pk)
    counted = queries.lists_with_counts(workspace).get(pk=contact_list.pk)
    return render(request, "front/audience/list_delete.html", _context(workspace, can_edit, contact_list=counted))


# --- suppressions ---------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@member_view
def suppression_list(request: HttpRequest, ws_id: int) -> HttpResponse:
    """The workspace's suppressions and the operator's (marked, not removable here); add one.

    ``?email=`` narrows the list to addresses containing it; ``?history=`` shows the audit trail of
    one address.
    """
    workspace, can_edit = _workspace(request, ws_id)
    form = SuppressionForm()
    if request.method == "POST":
        _may_change(can_edit)
        form = SuppressionForm(request.POST)
        if form.is_valid():
            try:
                _email, key = actions.normalise_email(form.cleaned_data["email"])
                existing = Suppression.objects.filter(workspace=workspace, email=key).first()
                suppression = suppressions.add_suppression(
                    workspace,
                    form.cleaned_data["email"],
                    form.cleaned_data["reason"],
                    source=ConsentSource.ADMIN,
                    detail="web UI",
                    actor=the_user(request),
                )
            except InvalidInput as exc:
                add_problems(form, _translated(exc))
            else:
                if existing is not None:
                    messages.info(
                        request,
                        _("%(email)s was suppressed already (%(reason)s).")
                        % {"email": key, "reason": existing.get_reason_display()},
                    )
                else:
                    messages.success(request, _("%(email)s is suppressed.") % {"email": suppression.email})
                return redirect("ws-suppressions", workspace.pk)
    search = request.GET.get("email", "")
    page = Paginator(queries.suppressions_for(workspace, search), PAGE_SIZE).get_page(request.GET.get("page"))
    history_email = request.GET.get("history", "").strip().lower()
    context = _context(
        workspace,
        can_edit,
        form=form,
        page=page,
        search=search,
        history_email=history_email,
        history=queries.suppression_history(workspace, history_email) if history_email else None,
    )
    return render(request, "front/audience/suppressions.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@member_view
def suppression_remove(request: HttpRequest, ws_id: int) -> HttpResponse:
    """A confirmation page for ``?email=``; its POST lifts the workspace's suppression of it."""
    workspace, can_edit = _workspace(request, ws_id)
    _may_change(can_edit)
    email = (request.POST.get("email") if request.method == "POST" else request.GET.get("email")) or ""
    suppression = Suppression.objects.filter(workspace=workspace, email=email.strip().lower()).first()
    if request.method == "POST":
        _remove(request, workspace, email)
        return redirect("ws-suppressions", workspace.pk)
    if suppression is None:
        raise Http404("the workspace does not suppress this address")
    return render(
        request, "front/audience/suppression_remove.html", _context(workspace, can_edit, suppression=suppression)
    )


def _remove(request: HttpRequest, workspace: Workspace, email: str) -> None:
    user = the_user(request)
    try:
        removed = suppressions.remove_suppression(
            workspace, email, source=ConsentSource.ADMIN, detail="web UI", actor=user
        )
    except InvalidInput as exc:
        messages.error(request, _problems(exc))
    except GlobalSuppression:
        text = _("The operator suppresses %(email)s for all workspaces; only they can lift it.")
        messages.error(request, text % {"email": email})
    else:
        if removed:
            messages.success(request, _("%(email)s is no longer suppressed.") % {"email": email.strip().lower()})
        else:
            messages.info(request, _("This workspace does not suppress %(email)s.") % {"email": email})


urlpatterns: list[URLPattern] = [
    path("workspaces/<int:ws_id>/contacts/", contact_list, name="ws-contacts"),
    path("workspaces/<int:ws_id>/contacts/new/", contact_new, name="ws-contact-new"),
    path("workspaces/<int:ws_id>/contacts/export.csv", contacts_export, name="ws-contacts-export"),
    path("workspaces/<int:ws_id>/contacts/<int:contact_id>/", contact_detail, name="ws-contact"),
    path(
        "workspaces/<int:ws_id>/contacts/<int:contact_id>/subscriptions/",
        contact_subscription,
        name="ws-contact-subscription",
    ),
    path("workspaces/<int:ws_id>/contacts/<int:contact_id>/export.json", contact_export, name="ws-contact-export"),
    path("workspaces/<int:ws_id>/contacts/<int:contact_id>/erase/", contact_erase, name="ws-contact-erase"),
    path("workspaces/<int:ws_id>/lists/", list_index, name="ws-lists"),
    path("workspaces/<int:ws_id>/lists/<int:list_id>/", list_detail, name="ws-list"),
    path("workspaces/<int:ws_id>/lists/<int:list_id>/subscribers/", list_subscribe, name="ws-list-subscribe"),
    path("workspaces/<int:ws_id>/lists/<int:list_id>/delete/", list_delete, name="ws-list-delete"),
    path("workspaces/<int:ws_id>/suppressions/", suppression_list, name="ws-suppressions"),
    path("workspaces/<int:ws_id>/suppressions/remove/", suppression_remove, name="ws-suppression-remove"),
]
