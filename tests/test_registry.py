"""The provider registry: a provider defined in a test becomes choosable, effective, and sends."""

from __future__ import annotations

import pytest
from django.test import Client

from openesp.delivery.worker import Worker
from openesp.esp.effective import effective_provider
from openesp.esp.models import EspConfig
from openesp.esp.providers import registry
from openesp.messaging.models import Message
from openesp.messaging.submit import parse_submission, submit
from tests.api.conftest import api_for
from tests.pigeon import PigeonProvider, PigeonServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def pigeon(settings):
    server = PigeonServer().start()
    settings.OPENESP_PIGEON_API_URL = server.url
    with registry.temporarily(PigeonProvider):
        yield server
    server.stop()


def test_a_provider_registered_in_a_test_is_choosable_effective_and_sends(alice, pigeon):
    page = Client()
    page.force_login(alice)
    choose = page.get("/account/email/provider/").content.decode()
    assert 'data-testid="choice-pigeon"' in choose
    assert ">PP<" in choose  # its own badge, not another provider's
    listed = api_for(alice).get("/api/v1/esp/egress-ips").json()["providers"]
    assert any(p["kind"] == "pigeon" and p["available"] and p["provider_host"] == "pigeon.example" for p in listed)

    answer = api_for(alice).put("/api/v1/esp/personal", {"kind": "pigeon"})
    assert answer.status_code == 200, answer.content
    assert EspConfig.objects.get(user=alice).get_kind_display() == "Pigeon Post"
    assert effective_provider(alice).kind == "pigeon"
    status = page.get("/account/email/").content.decode()
    assert "Pigeon Post" in status

    submit(alice, parse_submission({"from": alice.email, "to": ["r@example.net"], "subject": "Hi", "text": "Hello"}))
    worker = Worker("registry-test", pool_size=1)
    try:
        assert worker.run_once() == 1
    finally:
        worker.close()
    message = Message.objects.get()
    assert (message.status, message.provider_kind) == ("sent", "pigeon")
    assert pigeon.received == [{"from": alice.email, "to": ["r@example.net"], "subject": "Hi", "text": "Hello"}]


def test_a_kind_that_is_not_registered_is_refused(alice):
    answer = api_for(alice).put("/api/v1/esp/personal", {"kind": "pigeon"})
    assert answer.status_code == 422
    assert "must be one of sendgrid, mailjet, smtp" in answer.content.decode()


def test_the_choose_page_shows_each_providers_own_badge(alice, settings):
    settings.OPENESP_SENDGRID_API_KEY = "SG.x"
    page = Client()
    page.force_login(alice)
    html = page.get("/account/email/provider/").content.decode()
    assert ">SG<" in html and ">MJ<" in html
