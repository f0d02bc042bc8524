"""Forms of the template and campaign pages. They parse and show errors; the actions in
``openesp.campaigns`` decide and change state. Choices come from the workspace the page has
reached (``campaigns.queries``, ``audience.queries``), never from other workspaces."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from openesp.accounts.models import Workspace
from openesp.audience import queries as audience_queries
from openesp.campaigns import queries
from openesp.campaigns.templates import MAX_SOURCE

_CODE = {"rows": 14, "spellcheck": "false", "autocomplete": "off", "class": "mono code"}


class TemplateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    subject = forms.CharField(
        label=_("Subject"), max_length=MAX_SOURCE, strip=False, widget=forms.TextInput(attrs={"data-part": "subject"})
    )
    html = forms.CharField(
        label=_("HTML"),
        required=False,
        strip=False,  # error lines count from the text as typed
        max_length=MAX_SOURCE,
        widget=forms.Textarea(attrs={**_CODE, "data-part": "html"}),
    )
    text = forms.CharField(
        label=_("Text"),
        required=False,
        strip=False,
        max_length=MAX_SOURCE,
        widget=forms.Textarea(attrs={**_CODE, "rows": 8, "data-part": "text"}),
        help_text=_("Leave empty to derive the text part from the HTML."),
    )
    contact = forms.CharField(
        label=_("Preview as"),
        required=False,
        max_length=320,
        widget=forms.TextInput(attrs={"placeholder": _("a contact's e-mail address"), "data-part": "contact"}),
        help_text=_("Empty: a sample contact. Links get sample values."),
    )
    from_email = forms.CharField(
        label=_("Send the test from"),
        required=False,
        max_length=320,
        help_text=_("The test goes to your own address, through your effective provider."),
    )


def _version_choices(workspace: Workspace, *, blank: str | None = None) -> list[tuple[str, str]]:
    choices = [("", blank)] if blank is not None else []
    for template in queries.templates_of(workspace):
        latest = template.latest  # type: ignore[attr-defined]  # annotated by templates_of
        choices.append((str(template.pk), f"{template.name} (v{latest})"))
    return choices


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    template = forms.ChoiceField(label=_("Template"))
    template_version = forms.IntegerField(
        label=_("Version"),
        required=False,
        min_value=1,
        max_value=2**31 - 1,
        help_text=_("Empty: the template's latest version, pinned now."),
    )
    from_email = forms.CharField(label=_("From address"), max_length=320)
    from_name = forms.CharField(label=_("From name"), max_length=200, required=False)
    reply_to = forms.CharField(label=_("Reply-To"), max_length=320, required=False)
    lists = forms.MultipleChoiceField(label=_("Lists"), required=False, widget=forms.CheckboxSelectMultiple)
    segment = forms.ChoiceField(label=_("Segment"), required=False)
    response_url = forms.CharField(
        label=_("Response URL"),
        max_length=2000,
        required=False,
        help_text=_(
            "Optional: your own survey or form. After responding, recipients go there with their token "
            "appended (?token=…); without it they see a thank-you page."
        ),
    )
    receipt_template = forms.ChoiceField(
        label=_("Receipt template"),
        required=False,
        help_text=_("Optional: mailed once to each recipient who responds."),
    )

    def __init__(self, workspace: Workspace, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = _version_choices(workspace, blank="—")  # type: ignore[attr-defined]
        self.fields["receipt_template"].choices = _version_choices(workspace, blank=str(_("No receipt")))  # type: ignore[attr-defined]
        self.fields["lists"].choices = [  # type: ignore[attr-defined]
            (str(cl.pk), cl.name) for cl in audience_queries.lists_of(workspace)
        ]
        self.fields["segment"].choices = [("", str(_("No segment")))] + [  # type: ignore[attr-defined]
            (str(s.pk), s.name) for s in audience_queries.segments_of(workspace)
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("lists") and not data.get("segment"):
            self.add_error("lists", _("Choose one or more lists, a segment, or both."))
        return data


class _WhenMixin(forms.Form):
    date = forms.DateField(label=_("Date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    time = forms.TimeField(label=_("Time"), required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    time_zone = forms.CharField(
        label=_("Time zone"),
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"list": "time-zones", "data-time-zone": "", "autocomplete": "off"}),
        help_text=_("An IANA name, e.g. Europe/Stockholm."),
    )

    def local_time(self) -> datetime | None:
        day: date | None = self.cleaned_data.get("date")
        moment: time | None = self.cleaned_data.get("time")
        return datetime.combine(day, moment) if day and moment else None

    def need_time(self) -> None:
        for name in ("date", "time", "time_zone"):
            if not self.cleaned_data.get(name) and name not in self.errors:
                self.add_error(name, _("Required for a scheduled time."))


class ScheduleForm(_WhenMixin):
    when = forms.ChoiceField(
        label=_("Send"),
        choices=[("now", _("Now")), ("later", _("At a date and time"))],
        initial="now",
        widget=forms.RadioSelect,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("when") == "later":
            self.need_time()
        return data


class ReminderForm(_WhenMixin):
    template = forms.ChoiceField(label=_("Template"))
    when = forms.ChoiceField(
        label=_("Send"),
        choices=[
            ("now", _("Now")),
            ("later", _("At a date and time")),
            ("after", _("A number of days after the invitation")),
        ],
        initial="now",
        widget=forms.RadioSelect,
    )
    after_days = forms.IntegerField(label=_("Days after the invitation"), required=False, min_value=0, max_value=365)

    def __init__(self, workspace: Workspace, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = _version_choices(workspace)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("when") == "later":
            self.need_time()
        elif data.get("when") == "after" and data.get("after_days") is None and "after_days" not in self.errors:
            self.add_error("after_days", _("Required for a reminder some days after the invitation."))
        return data
