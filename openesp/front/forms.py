"""Forms of the web UI. They parse and show errors; the actions decide and change state."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import get_language_info
from django.utils.translation import gettext_lazy as _

from openesp.accounts.models import Role
from openesp.esp.models import SmtpSecurity
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


class MessageFilterForm(forms.Form):
    """The message log's filters, read from the query string; a field left empty filters nothing."""

    status = forms.ChoiceField(label=_("Status"), required=False)
    recipient = forms.CharField(label=_("Recipient"), max_length=320, required=False)
    category = forms.ChoiceField(label=_("Category"), required=False)
    # ISO dates whatever the language: that is what <input type="date"> sends and shows.
    date_from = forms.DateField(
        label=_("Date from"),
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )
    date_to = forms.DateField(
        label=_("Date to"),
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        status, category = self.fields["status"], self.fields["category"]
        assert isinstance(status, forms.ChoiceField) and isinstance(category, forms.ChoiceField)
        status.choices = [("", _("Any status")), *Status.choices]
        category.choices = [("", _("Any category")), *Category.choices]
        self.fields["recipient"].widget.attrs.update({"placeholder": "name@example.com"})
