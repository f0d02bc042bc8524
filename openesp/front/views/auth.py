"""Signing up, in and out; password reset; e-mail verification."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from openesp.accounts import actions
from openesp.front.forms import LoginForm, PasswordResetRequestForm, SignUpForm
from openesp.front.helpers import add_problems, the_user
from openesp.lib.errors import InvalidInput

BACKEND = "django.contrib.auth.backends.ModelBackend"


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    if request.method == "POST":
        form = SignUpForm(request.POST)
        if form.is_valid():
            try:
                user = actions.sign_up(
                    form.cleaned_data["email"],
                    form.cleaned_data["password"],
                    name=form.cleaned_data["name"],
                    language=translation.get_language() or "",
                )
            except InvalidInput as exc:
                add_problems(form, exc)
            else:
                login(request, user, backend=BACKEND)
                messages.success(
                    request,
                    _("Welcome! We sent a link to %(email)s to confirm your address.") % {"email": user.email},
                )
                return HttpResponseRedirect(_next_url(request) or reverse_lazy("home"))
    else:
        form = SignUpForm(initial={"email": request.GET.get("email", "")})
    return render(request, "front/signup.html", {"form": form, "next": _next_url(request)})


class LoginView(auth_views.LoginView):
    template_name = "front/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("login")


def password_reset(request: HttpRequest) -> HttpResponse:
    sent = False
    if request.method == "POST":
        form = PasswordResetRequestForm(request.POST)
        if form.is_valid():
            actions.send_password_reset_mail(form.cleaned_data["email"])
            # The same answer whether or not an account has the address: it is not a lookup service.
            sent = True
    else:
        form = PasswordResetRequestForm()
    return render(request, "front/password_reset.html", {"form": form, "sent": sent})


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "front/password_reset_confirm.html"
    success_url = reverse_lazy("login")
    post_reset_login = False

    def form_valid(self, form):  # type: ignore[no-untyped-def]
        response = super().form_valid(form)
        actions.password_was_reset(form.user)
        messages.success(self.request, _("Your password has been changed. You can log in with it now."))
        return response


def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    try:
        user = actions.verify_email(token)
    except InvalidInput:
        return render(request, "front/verify_email.html", {"ok": False}, status=400)
    return render(request, "front/verify_email.html", {"ok": True, "verified_email": user.email})


@require_POST
def resend_verification(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("login")
    user = the_user(request)
    if not user.email_verified:
        actions.send_verification_mail(user)
        messages.success(request, _("We sent a new confirmation link to %(email)s.") % {"email": user.email})
    return redirect("account")
