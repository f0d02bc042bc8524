"""Sign up, log in and out, password reset, e-mail verification."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils.http import urlsafe_base64_encode

from openesp.accounts.models import User
from openesp.messaging.models import Category, Message
from tests.conftest import PASSWORD
from tests.front.conftest import field_error

pytestmark = pytest.mark.django_db


def test_it_signs_up_logs_in_and_queues_the_verification_mail(client):
    r = client.post(reverse("signup"), {"email": "Dana@Example.org", "name": "Dana", "password": PASSWORD}, follow=True)
    assert r.status_code == 200
    user = User.objects.get(email="dana@example.org")
    assert user.name == "Dana"
    assert r.context["user"] == user
    mail = Message.objects.get(to_email="dana@example.org")
    assert mail.category == Category.SYSTEM
    assert "/verify/" in mail.text_body


def test_it_names_the_field_when_sign_up_fails(client, alice):
    r = client.post(reverse("signup"), {"email": alice.email, "name": "", "password": "short"})
    assert r.status_code == 200
    html = r.content.decode()
    assert field_error(html, "password")
    r = client.post(reverse("signup"), {"email": alice.email, "name": "", "password": PASSWORD})
    assert field_error(r.content.decode(), "email")
    assert "exists already" in r.content.decode()


def test_signup_prefills_the_invited_address(client):
    r = client.get(reverse("signup") + "?email=new%40example.org")
    assert 'value="new@example.org"' in r.content.decode()


def test_it_logs_in_with_email_and_password(client, alice):
    r = client.post(reverse("login"), {"username": alice.email, "password": PASSWORD})
    assert r.status_code == 302
    assert r["Location"] == reverse("home")
    client.logout()
    r = client.post(reverse("login"), {"username": alice.email, "password": "wrong"})
    assert r.status_code == 200
    assert "is not right" in r.content.decode()


def test_logout_is_a_post(as_alice):
    assert as_alice.get(reverse("logout")).status_code == 405
    r = as_alice.post(reverse("logout"))
    assert r.status_code == 302
    assert as_alice.get(reverse("home")).status_code == 302


def test_pages_need_a_login(client):
    r = client.get(reverse("email-status"))
    assert r.status_code == 302
    assert r["Location"].startswith(reverse("login"))


def test_password_reset_gives_the_same_answer_for_any_address(client, alice):
    known = client.post(reverse("password-reset"), {"email": alice.email})
    unknown = client.post(reverse("password-reset"), {"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 200
    assert 'data-testid="reset-sent"' in known.content.decode()
    assert 'data-testid="reset-sent"' in unknown.content.decode()
    assert Message.objects.filter(to_email=alice.email, category=Category.SYSTEM).count() == 1
    assert not Message.objects.filter(to_email="nobody@example.org").exists()


def test_password_reset_link_sets_a_new_password(client, alice):
    client.post(reverse("password-reset"), {"email": alice.email})
    client.post(reverse("password-reset"), {"email": alice.email})  # asked twice: two links
    first, second = Message.objects.filter(to_email=alice.email).order_by("pk")
    body = first.text_body
    path = re.search(r"https?://[^/\s]+(/reset/\S+)", body).group(1)
    r = client.get(path, follow=True)
    assert r.status_code == 200
    new = "a brand new passphrase 42"
    r = client.post(r.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert r.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(new)
    # Both links are dead now (the password changed): what is still queued is not sent.
    assert {m.status for m in Message.objects.filter(pk__in=[first.pk, second.pk])} == {"cancelled"}


def test_password_reset_confirm_refuses_a_bad_token(client, alice):
    uid = urlsafe_base64_encode(str(alice.pk).encode())
    r = client.get(reverse("password-reset-confirm", args=[uid, "bad-token"]))
    assert r.status_code == 200
    assert "invalid or has expired" in r.content.decode()
    assert default_token_generator.check_token(alice, "bad-token") is False


def test_verification_link_confirms_the_address(client):
    client.post(reverse("signup"), {"email": "eve@example.org", "name": "", "password": PASSWORD})
    body = Message.objects.get(to_email="eve@example.org").text_body
    path = re.search(r"https?://[^/\s]+(/verify/\S+)", body).group(1)
    r = client.get(path)
    assert r.status_code == 200
    assert User.objects.get(email="eve@example.org").email_verified
    assert client.get(reverse("verify-email", args=["nonsense"])).status_code == 400
