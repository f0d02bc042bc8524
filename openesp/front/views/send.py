"""The Send page of a workspace: compose one message and queue it the way ``POST /api/v1/messages``
does (``messaging.idempotency.submit_once``: the same parsing, sender rules and queueing).

The form carries a one-time token used as the idempotency key, so a double click or a reload of
the POST queues the mail once. What happened is said honestly: queued in the sandbox, on its way,
or waiting because no provider can carry it.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from openesp.accounts.access import require_editor, workspace_for
from openesp.front.helpers import member_view, the_actor, the_user
from openesp.front.mailnote import report_queued
from openesp.lib.errors import InvalidInput
from openesp.messaging.idempotency import submit_once
from openesp.messaging.submit import SenderNotAllowed

_SPLIT = re.compile(r"[,;\n]+")


class SendForm(forms.Form):
    from_email = forms.CharField(
        label=gettext_lazy("From"),
        max_length=320,
        help_text=gettext_lazy(
            "Your confirmed address, the From address of your custom SMTP server, "
            "or an address at a verified sending domain."
        ),
    )
    to = forms.CharField(
        label=gettext_lazy("To"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy(
            "One or more addresses, separated by commas or lines; each gets a message of their own."
        ),
    )
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=998)
    text = forms.CharField(label=gettext_lazy("Text"), widget=forms.Textarea(attrs={"rows": 8}), required=False)
    html = forms.CharField(
        label=gettext_lazy("HTML"),
        widget=forms.Textarea(attrs={"rows": 6, "class": "mono"}),
        required=False,
        help_text=gettext_lazy("Optional; give text, HTML or both."),
    )
    sandbox = forms.BooleanField(label=gettext_lazy("Sandbox: validate and record, deliver nothing"), required=False)
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def submission(self) -> dict[str, Any]:
        """The form as ``parse_submission`` reads an API body."""
        data = self.cleaned_data
        body: dict[str, Any] = {
            "from": data["from_email"].strip(),
            "to": [a.strip() for a in _SPLIT.split(data["to"]) if a.strip()],
            "subject": data["subject"],
            "sandbox": bool(data["sandbox"]),
        }
        if data["text"]:
            body["text"] = data["text"]
        if data["html"]:
            body["html"] = data["html"]
        return body


def _form_field(api_field: str) -> str:
    """The form field an API field name (``to[1].email``, ``from``) belongs to."""
    head = api_field.split("[", 1)[0].split(".", 1)[0]
    return {"from": "from_email"}.get(head, head)


@member_view
def send(request: HttpRequest, ws_id: int) -> HttpResponse:
    user = the_user(request)
    workspace = workspace_for(user, ws_id)
    require_editor(the_actor(request), workspace, _("Viewers cannot send mail in this workspace."))
    if request.method != "POST":
        form = SendForm(initial={"from_email": user.email, "token": uuid.uuid4().hex})
    else:
        form = SendForm(request.POST)
        if form.is_valid():
            try:
                answer = submit_once(
                    user, form.submission(), workspace=workspace, owner=f"web:{user.pk}", key=form.cleaned_data["token"]
                )
            except InvalidInput as exc:
                for problem in exc.problems:
                    field = _form_field(problem.field)
                    form.add_error(field if field in form.fields else None, f"{problem.field}: {problem.reason}")
            except SenderNotAllowed as exc:
                form.add_error("from_email", str(exc))
            else:
                ids = answer.body["ids"]
                count = len(ids)
                if form.cleaned_data["sandbox"]:
                    messages.info(
                        request,
                        ngettext(
                            "%(count)s message recorded in the sandbox: validated, not delivered.",
                            "%(count)s messages recorded in the sandbox: validated, not delivered.",
                            count,
                        )
                        % {"count": count},
                    )
                else:
                    report_queued(
                        request,
                        user,
                        sent=ngettext("%(count)s message is on its way.", "%(count)s messages are on their way.", count)
                        % {"count": count},
                        queued=ngettext("%(count)s message", "%(count)s messages", count) % {"count": count},
                        sender=user,
                        organization=workspace.organization,
                        platform=False,
                    )
                if count == 1:
                    return redirect("ws-message", workspace.pk, ids[0])
                return redirect("ws-messages", workspace.pk)
    context = {"form": form, "workspace": workspace, "organization": workspace.organization, "section": "messages"}
    return render(request, "front/messages/send.html", context, status=400 if form.errors else 200)
