"""English and Swedish: the browser's language, and the user's own choice winning over it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from openesp.accounts.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_pages_follow_the_browser_language(client, as_alice, org):
    html = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert "Logga in" in html
    html = as_alice.get(reverse("email-status"), HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert "E-poststatus" in html
    assert "E-postinställningar" in html
    assert 'lang="sv"' in html
    html = as_alice.get(reverse("email-custom"), HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    for text in ["Testa anslutning", "Från-adress", "Server-URL", "Serverport", "Användarnamn", "Lösenord"]:
        assert text in html, text
    html = as_alice.get(reverse("email-status"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Email status" in html


def test_the_users_language_wins_over_the_browser(as_alice, alice, org):
    r = as_alice.post(reverse("account"), {"name": "Alice", "language": "sv"})
    assert r.status_code == 302
    alice.refresh_from_db()
    assert alice.language == "sv"
    html = as_alice.get(reverse("email-status"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "E-poststatus" in html
    html = as_alice.get(reverse("org-settings", args=[org.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Välj e-postleverantör" in html


def test_form_errors_and_reasons_are_translated(as_alice, alice, bob, org):
    alice.language = "sv"
    alice.save()
    r = as_alice.post(
        reverse("email-custom"),
        {
            "host": "smtp.gmail.com",
            "port": "587",
            "security": "starttls",
            "from_email": "a@example.com",
            "action": "save",
        },
    )
    assert "massutskick" in r.content.decode()
    from openesp.esp.models import EspConfig

    EspConfig.objects.create(
        organization=org,
        kind="smtp",
        host="smtp.example.com",
        port=587,
        security="starttls",
        from_email="a@example.com",
        enforced=True,
    )
    html = as_alice.get(reverse("email-status")).content.decode()
    assert "genomdrivs av organisationen Acme" in html


def test_signup_keeps_the_browser_language_for_mails(client):
    client.post(
        reverse("signup"),
        {"email": "sven@example.se", "name": "Sven", "password": PASSWORD},
        HTTP_ACCEPT_LANGUAGE="sv",
    )
    from openesp.messaging.models import Message

    assert "Bekräfta" in Message.objects.get(to_email="sven@example.se").subject


@pytest.mark.parametrize("page", ["login", "signup"])
def test_the_pages_before_log_in_have_a_language_switch(client, page):
    url = reverse(page)
    html = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-testid="lang-sv"' in html and "Svenska" in html
    response = client.post(reverse("set_language"), {"language": "sv", "next": url}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302 and response["Location"] == url
    html = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'lang="sv"' in html and ("Logga in" in html if page == "login" else "Registrera dig" in html)


def test_sign_up_after_the_switch_keeps_the_language(client):
    client.post(reverse("set_language"), {"language": "sv", "next": "/signup/"})
    client.post(reverse("signup"), {"email": "dana@example.net", "name": "Dana", "password": "a long passphrase 42"})
    assert User.objects.get(email="dana@example.net").language == "sv"
