"""Forms of the web UI. They parse and show errors; the actions decide and change state."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import get_language_info
from django.utils.translation import gettext_lazy as _

from openesp.accounts.models import Role
from openesp.audience.models import ContactStatus, SuppressionReason
from openesp.esp.bouncemailbox import MailboxInput
from openesp.esp.models import ImapSecurity, SmtpSecurity
from openesp.messaging.models import Category, Status


class SignUpForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"), max_length=254)
    name = forms.CharField(label=_("Your name"), max_length=200, required=False)
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 10 characters; not a common password."),
    )

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        password_validation.validate_password(password)
        return password


class LoginForm(AuthenticationForm):
    username = forms.EmailField(
        label=_("E-mail address"), widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )
    error_messages = {
        "invalid_login": _("The e-mail address or the password is not right."),
        "inactive": _("This account is inactive."),
    }


class PasswordResetRequestForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"), max_length=254)


class ProfileForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        # Each language in its own name ("English", "Svenska"): findable whatever the page's language.
        choices=[("", _("Same as the browser"))]
        + [(code, str(get_language_info(code)["name_local"]).capitalize()) for code, _name in settings.LANGUAGES],
    )


class NameForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)


class CustomSmtpForm(forms.Form):
    """The custom provider: the seed's five fields and the connection security."""

    host = forms.CharField(
        label=_("Server URL"),
        max_length=300,
        required=False,
        help_text=_("A host name such as smtp.example.com, or a URL such as smtp://smtp.example.com:587."),
    )
    port = forms.CharField(label=_("Server port"), max_length=20, required=False)
    security = forms.ChoiceField(label=_("Security"), choices=SmtpSecurity.choices, initial=SmtpSecurity.STARTTLS)
    from_email = forms.CharField(label=_("“From” address"), max_length=254, required=False)
    username = forms.CharField(label=_("Username"), max_length=254, required=False)
    password = forms.CharField(
        label=_("Password"),
        max_length=1024,
        required=False,
        strip=False,
        # Never rendered back: the browser gets an empty field whatever was typed or stored.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["port"].widget.attrs.update({"inputmode": "numeric", "placeholder": "587"})
        self.fields["host"].widget.attrs.update({"placeholder": "smtp.example.com"})
        self.fields["from_email"].widget.attrs.update({"placeholder": "news@example.com"})


class BounceMailboxForm(forms.Form):
    """The bounce mailbox of a custom SMTP server (IMAP): where its bounces are fetched from."""

    enabled = forms.BooleanField(label=_("Fetch bounces from this mailbox"), required=False, initial=True)
    host = forms.CharField(label=_("IMAP server"), max_length=253, required=False)
    port = forms.CharField(label=_("Server port"), max_length=20, required=False)
    security = forms.ChoiceField(label=_("Security"), choices=ImapSecurity.choices, initial=ImapSecurity.TLS)
    username = forms.CharField(label=_("Username"), max_length=254, required=False)
    password = forms.CharField(
        label=_("Password"),
        max_length=1024,
        required=False,
        strip=False,
        # Never rendered back, like the SMTP password.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    folder = forms.CharField(label=_("Folder"), max_length=200, required=False, initial="INBOX")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["port"].widget.attrs.update({"inputmode": "numeric", "placeholder": "993"})
        self.fields["host"].widget.attrs.update({"placeholder": "imap.example.com"})
        self.fields["folder"].widget.attrs.update({"placeholder": "INBOX"})

    def to_input(self) -> MailboxInput:
        data = self.cleaned_data
        port = str(data["port"] or "").strip()
        return MailboxInput(
            host=data["host"],
            port=(int(port) if port.isdigit() else -1) if port else None,
            security=data["security"],
            username=data["username"],
            # An empty field keeps the stored password: it is never sent to the browser to edit.
            password=data["password"] or None,
            folder=data["folder"],
            enabled=data["enabled"],
        )


ROLE_CHOICES = Role.choices


class InviteForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"), max_length=254)
    role = forms.ChoiceField(label=_("Role"), choices=ROLE_CHOICES, initial=Role.MEMBER)
    workspace = forms.ChoiceField(label=_("Workspace"), required=False)

    def __init__(self, *args: Any, workspaces: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices: list[tuple[str, str]] = [("", str(_("The whole organization")))]
        field = self.fields["workspace"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices + (workspaces or [])


ISO_DATE_ATTRS = {"placeholder": "YYYY-MM-DD", "pattern": r"\d{4}-\d{2}-\d{2}", "inputmode": "numeric", "size": "10"}


class MessageFilterForm(forms.Form):
    """The message log's filters, read from the query string; a field left empty filters nothing."""

    status = forms.ChoiceField(label=_("Status"), required=False)
    recipient = forms.CharField(label=_("Recipient"), max_length=320, required=False)
    category = forms.ChoiceField(label=_("Category"), required=False)
    # The workspace's campaigns (``campaigns`` to the constructor): a choice, so no other id passes.
    campaign = forms.TypedChoiceField(label=_("Campaign"), required=False, coerce=int, empty_value=None)
    # ISO dates whatever the language, typed as text: <input type="date"> would show the
    # browser's locale format (mm/dd/yyyy in American English), unlike every date on the page.
    date_from = forms.DateField(
        label=_("Date from"),
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(format="%Y-%m-%d", attrs=ISO_DATE_ATTRS),
    )
    date_to = forms.DateField(
        label=_("Date to"),
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(format="%Y-%m-%d", attrs=ISO_DATE_ATTRS),
    )

    def __init__(self, *args: Any, campaigns: list[tuple[int, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        status, category, campaign = self.fields["status"], self.fields["category"], self.fields["campaign"]
        assert isinstance(status, forms.ChoiceField) and isinstance(category, forms.ChoiceField)
        assert isinstance(campaign, forms.ChoiceField)
        status.choices = [("", _("Any status")), *Status.choices]
        category.choices = [("", _("Any category")), *Category.choices]
        campaign.choices = [("", _("Any campaign")), *(campaigns or [])]
        self.fields["recipient"].widget.attrs.update({"placeholder": "name@example.com"})


# --- audience: contacts, lists, suppressions ------------------------------------------------------
# Validation of addresses, languages, time zones and attributes stays in ``audience.actions``; these
# forms only read what was sent, so that the UI gives the same reasons as the API.


class ContactFilterForm(forms.Form):
    """The contact list's filters, read from the query string; a field left empty filters nothing."""

    q = forms.CharField(label=_("E-mail address"), max_length=320, required=False)
    # "list" (the query string's name) is added in __init__: a class attribute would shadow the builtin.
    status = forms.ChoiceField(label=_("Status"), required=False)
    attribute = forms.CharField(
        label=_("Attribute"), max_length=1100, required=False, help_text=_("name=value, e.g. country=SE")
    )

    def __init__(self, *args: Any, lists: list[tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["list"] = forms.ChoiceField(
            label=_("List"), required=False, choices=[("", _("Any list")), *(lists or [])]
        )
        self.order_fields(["q", "list", "status", "attribute"])
        status = self.fields["status"]
        assert isinstance(status, forms.ChoiceField)
        status.choices = [("", _("Any status")), *ContactStatus.choices]
        self.fields["q"].widget.attrs.update({"placeholder": _("Part of an address")})
        self.fields["attribute"].widget.attrs.update({"placeholder": "country=SE"})


class ContactForm(forms.Form):
    """A contact's profile; its attributes come as rows beside it (``AttributeRows``)."""

    email = forms.CharField(label=_("E-mail address"), max_length=320)
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    language = forms.CharField(
        label=_("Language"), max_length=35, required=False, help_text=_("A language tag such as en, sv or pt-BR.")
    )
    time_zone = forms.CharField(
        label=_("Time zone"), max_length=64, required=False, help_text=_("Such as Europe/Stockholm.")
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs.update({"placeholder": "name@example.com", "autocomplete": "off"})


class ContactEditForm(ContactForm):
    status = forms.ChoiceField(label=_("Status"), choices=ContactStatus.choices)


_INTEGER = re.compile(r"^[+-]?\d+\Z")
ATTRIBUTE_TYPES = [("text", _("Text")), ("number", _("Number")), ("boolean", _("Yes or no"))]


class AttributeRows:
    """Attributes as rows of name, type and value (``attr_key``, ``attr_type``, ``attr_value``).

    A form sends text; the type says what JSON value to keep, so that ``42`` can be the number
    or the postcode ``"042"``. An empty row is ignored: that is how an attribute is removed; a
    value without a name is an error, not something to drop silently.
    """

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        self.rows = rows
        self.errors: list[str] = []

    @classmethod
    def from_post(cls, data: Any) -> AttributeRows:
        keys, types, values = data.getlist("attr_key"), data.getlist("attr_type"), data.getlist("attr_value")
        rows = [
            (key.strip(), types[i] if i < len(types) else "text", values[i] if i < len(values) else "")
            for i, key in enumerate(keys)
        ]
        return cls([row for row in rows if row[0] or row[2].strip()])

    @classmethod
    def from_attributes(cls, attributes: dict[str, Any]) -> AttributeRows:
        rows = []
        for key, value in sorted(attributes.items()):
            if isinstance(value, bool):
                rows.append((key, "boolean", "true" if value else "false"))
            elif isinstance(value, int | float):
                rows.append((key, "number", str(value)))
            else:
                rows.append((key, "text", str(value)))
        return cls(rows)

    def values(self) -> dict[str, Any] | None:
        """The attributes, or None with ``errors`` filled in."""
        result: dict[str, Any] = {}
        names: set[str] = set()  # folded: "Country" and "country" are one attribute
        for key, kind, raw in self.rows:
            value = raw.strip()
            given_twice = key.casefold() in names
            names.add(key.casefold())
            if not key:
                self.errors.append(str(_("An attribute with a value needs a name.")))
            elif given_twice:
                self.errors.append(str(_("%(name)s: the name is given twice.") % {"name": key}))
            elif kind == "number":
                try:
                    result[key] = int(value) if _INTEGER.match(value) else float(value)
                except ValueError:
                    self.errors.append(str(_("%(name)s: is not a number.") % {"name": key}))
            elif kind == "boolean":
                if value.lower() not in ("true", "false", "yes", "no", "1", "0"):
                    self.errors.append(str(_("%(name)s: must be true or false.") % {"name": key}))
                    continue
                result[key] = value.lower() in ("true", "yes", "1")
            else:
                result[key] = raw
        return None if self.errors else result

    def shown(self, blank: int = 2) -> list[tuple[str, str, str]]:
        """The rows to show, with ``blank`` empty ones to fill in."""
        return self.rows + [("", "text", "")] * blank


class ListForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    double_opt_in = forms.BooleanField(
        label=_("Double opt-in"),
        required=False,
        help_text=_("New subscribers stay pending until they confirm by e-mail."),
    )


class SubscriberForm(forms.Form):
    email = forms.CharField(label=_("E-mail address"), max_length=320)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs.update({"placeholder": "name@example.com"})


class SuppressionForm(forms.Form):
    email = forms.CharField(label=_("E-mail address"), max_length=320)
    reason = forms.ChoiceField(label=_("Reason"), choices=SuppressionReason.choices, initial=SuppressionReason.MANUAL)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs.update({"placeholder": "name@example.com"})
