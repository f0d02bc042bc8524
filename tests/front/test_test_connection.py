"""*Test connection* on the unsaved custom form and on a saved config, against real local servers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from openesp.esp.models import EspConfig

pytest.importorskip("openesp.esp.testconn")

pytestmark = pytest.mark.django_db


def _form(server, **overrides):
    data = {
        "host": server.host,
        "port": str(server.port),
        "security": "starttls",
        "from_email": "news@example.com",
        "username": "mailer",
        "password": "s3cret-Pa55word!",
        "action": "test",
    }
    data.update(overrides)
    return data


def test_it_tests_the_unsaved_form_and_sends_the_test_mail(as_alice, alice, smtp_server):
    r = as_alice.post(reverse("email-custom"), _form(smtp_server))
    assert r.status_code == 200
    html = r.content.decode()
    assert 'data-ok="true"' in html
    assert "s3cret-Pa55word!" not in html
    assert not EspConfig.objects.filter(user=alice).exists()  # testing saves nothing
    assert [m.rcpt_tos for m in smtp_server.messages] == [[alice.email]]


def test_it_reports_the_failing_step_and_the_server_reply(as_alice, smtp_server):
    r = as_alice.post(reverse("email-custom"), _form(smtp_server, password="wrong-password"))
    html = r.content.decode()
    assert 'data-ok="false"' in html
    assert "535" in html
    assert smtp_server.messages == []


def test_it_tests_a_saved_config(as_alice, alice, smtp_server):
    r = as_alice.post(reverse("email-custom"), _form(smtp_server, action="save"))
    assert r.status_code == 302
    r = as_alice.post(reverse("email-test"))
    assert 'data-ok="true"' in r.content.decode()
    assert len(smtp_server.messages) == 1


def test_testing_a_saved_config_uses_the_stored_password(as_alice, alice, smtp_server):
    as_alice.post(reverse("email-custom"), _form(smtp_server, action="save"))
    r = as_alice.post(reverse("email-custom"), _form(smtp_server, password=""))
    assert 'data-ok="true"' in r.content.decode()


def test_a_member_cannot_test_the_organization_form(as_bob, org, smtp_server):
    r = as_bob.post(reverse("org-email-custom", args=[org.pk]), _form(smtp_server))
    assert r.status_code == 403
    assert smtp_server.messages == []


def test_a_form_that_does_not_validate_is_not_tested(as_alice, smtp_server):
    r = as_alice.post(reverse("email-custom"), _form(smtp_server, host="smtp.gmail.com"))
    assert r.status_code == 400
    html = r.content.decode()
    assert 'data-error-for="host"' in html
    assert 'data-testid="test-result"' not in html
    assert smtp_server.messages == []


def test_a_closed_port_fails_at_the_connect_step(as_alice, smtp_server):
    from tests.servers.smtp import closed_port

    r = as_alice.post(reverse("email-custom"), _form(smtp_server, port=str(closed_port())))
    html = r.content.decode()
    assert 'data-ok="false"' in html
    assert "Connecting" in html


def test_a_failed_test_keeps_the_typed_password_for_the_save_without_echoing_it(as_alice, alice, smtp_server):
    """Issue 10: the form no longer empties the password after a failed *Test connection*."""
    # The test fails: nothing listens on port 1.
    r = as_alice.post(reverse("email-custom"), _form(smtp_server, port="1", password="s3cret-Pa55word!"))
    html = r.content.decode()
    assert 'data-ok="false"' in html
    assert "s3cret-Pa55word!" not in html
    assert "The password you typed is kept" in html
    # The user fixes the port and saves with the password field empty, as the browser sends it.
    r = as_alice.post(reverse("email-custom"), _form(smtp_server, password="", action="save"))
    assert r.status_code == 302
    config = EspConfig.objects.get(user=alice)
    assert config.get_password() == "s3cret-Pa55word!"
    # Saved: the kept password is gone; a fresh form keeps nothing.
    assert "The password you typed is kept" not in as_alice.get(reverse("email-custom")).content.decode()


def test_a_kept_password_is_forgotten_when_the_form_is_opened_again(as_alice, alice, smtp_server):
    as_alice.post(reverse("email-custom"), _form(smtp_server, port="1"))
    as_alice.get(reverse("email-custom"))
    as_alice.post(reverse("email-custom"), _form(smtp_server, password="", action="save", username=""))
    assert not EspConfig.objects.get(user=alice).has_password
