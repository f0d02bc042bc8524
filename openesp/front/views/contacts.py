"""The contacts of a workspace: the filtered list, adding, the contact's page (profile,
attributes, subscriptions, ledger, suppressions, mail sent), GDPR export and erasure, and the
CSV export.

Lookups and the viewer refusal as on every audience page (``audience_common``). Views parse and
authorise; ``audience.actions`` changes state.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from openesp.audience import actions, categories, doubleoptin, export, gdpr, queries
from openesp.audience.access import access_contact, access_list
from openesp.audience.actions import ContactExists
from openesp.audience.consent import Consent
from openesp.audience.models import ConsentSource, Contact, ContactList, SubscriptionStatus
from openesp.front.forms import ATTRIBUTE_TYPES, AttributeRows, ContactEditForm, ContactFilterForm, ContactForm
from openesp.front.helpers import add_problems, int_or_none, member_view, the_actor, the_user
from openesp.front.mailnote import report_queued
from openesp.front.views.audience_common import (
    audience_workspace,
    page_context,
    refuse_viewers,
    translated,
    ui_consent,
)
from openesp.lib.downloads import csv_download
from openesp.lib.errors import InvalidInput

PAGE_SIZE = 50


@require_GET
@member_view
def contact_list(request: HttpRequest, ws_id: int) -> HttpResponse:
    workspace, can_edit = audience_workspace(request, ws_id)
    lists = list(queries.lists_of(workspace))
    form = ContactFilterForm(request.GET, lists=[(str(cl.pk), cl.name) for cl in lists])
    # An invalid filter is shown next to its field and left out; the valid ones still apply.
    form.is_valid()
    filters: dict[str, Any] = dict(form.cleaned_data)
    filters["list"] = next((cl for cl in lists if str(cl.pk) == filters.get("list")), None)
    try:
        filters["attribute"] = queries.parse_attribute_filter(workspace, filters.get("attribute") or "")
    except InvalidInput as exc:
        add_problems(form, translated(exc))
        filters["attribute"] = None
    contacts = queries.contacts_matching(workspace, filters)
    page = Paginator(contacts, PAGE_SIZE).get_page(request.GET.get("page"))
    context = page_context(
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
    workspace, can_edit = audience_workspace(request, ws_id)
    refuse_viewers(request, workspace)
    lists = list(queries.lists_of(workspace))
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
                consent=ui_consent(the_user(request)),
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
    context = page_context(
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
        add_problems(form, translated(InvalidInput(others)))


@require_http_methods(["GET", "POST"])
@member_view
def contact_detail(request: HttpRequest, ws_id: int, contact_id: int) -> HttpResponse:
    workspace, can_edit = audience_workspace(request, ws_id)
    contact = access_contact(the_actor(request), contact_id, workspace=workspace)
    initial = {f: getattr(contact, f) for f in ("email", "name", "language", "time_zone", "status")}
    form = ContactEditForm(initial=initial)
    rows = AttributeRows.from_attributes(contact.attributes)
    status = 200
    if request.method == "POST":
        refuse_viewers(request, workspace)
        form = ContactEditForm(request.POST)
        rows = AttributeRows.from_post(request.POST)
        if form.is_valid():
            attributes = rows.values()
            if attributes is not None:
                # The form holds all attributes: those no longer in it are removed. Names compare
                # folded: a row retyped as "country" is still the attribute "Country".
                kept = {key.casefold() for key in attributes}
                attributes |= {key: None for key in contact.attributes if key.casefold() not in kept}
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
    context = page_context(
        workspace,
        can_edit,
        contact=contact,
        form=form,
        rows=rows.shown(),
        attribute_errors=rows.errors,
        attribute_types=ATTRIBUTE_TYPES,
        subscriptions=queries.subscriptions_by_list(contact),
        categories=categories.categories_of(contact),
        ledger=queries.ledger(contact),
        suppressions=suppressions,
        sent=queries.messages_to(contact),
    )
    return render(request, "front/audience/contact.html", context, status=status)


@require_POST
@member_view
def contact_subscription(request: HttpRequest, ws_id: int, contact_id: int) -> HttpResponse:
    """Subscribe to or unsubscribe from one list; back to the contact, or to the list's page."""
    workspace, _can_edit = audience_workspace(request, ws_id)
    contact = access_contact(the_actor(request), contact_id, workspace=workspace)
    contact_list = access_list(the_actor(request), request.POST.get("list"), workspace=workspace)
    refuse_viewers(request, workspace)
    consent = ui_consent(the_user(request))
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
    subscription = queries.subscription_of(contact, contact_list)
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
        report_queued(
            request,
            the_user(request),
            sent=_("The confirmation mail has been sent again to %(email)s.") % {"email": contact.email},
            queued=_("The confirmation mail to %(email)s") % {"email": contact.email},
            sender=None,
            organization=contact_list.workspace.organization,
        )


@require_GET
@member_view
def contact_export(request: HttpRequest, ws_id: int, contact_id: int) -> HttpResponse:
    """Everything held about the contact (GDPR Art. 15 and 20), as a JSON file."""
    workspace, _can_edit = audience_workspace(request, ws_id)
    contact = access_contact(the_actor(request), contact_id, workspace=workspace)
    body = json.dumps(gdpr.export_contact_data(contact), indent=2, ensure_ascii=False)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="contact-{contact.pk}.json"'
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
@member_view
def contact_erase(request: HttpRequest, ws_id: int, contact_id: int) -> HttpResponse:
    """A confirmation page; its POST erases (GDPR Art. 17)."""
    workspace, can_edit = audience_workspace(request, ws_id)
    contact = access_contact(the_actor(request), contact_id, workspace=workspace)
    refuse_viewers(request, workspace)
    if request.method == "POST":
        user = the_user(request)
        email = contact.email
        gdpr.erase_contact(contact, user, Consent(source=ConsentSource.ADMIN, detail="web UI", actor=user))
        messages.success(request, _("The contact %(email)s has been erased.") % {"email": email})
        return redirect("ws-contacts", workspace.pk)
    context = page_context(
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
    workspace, _can_edit = audience_workspace(request, ws_id)
    return csv_download(export.export_contacts_csv(workspace), f"contacts-{workspace.pk}.csv")


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
]
