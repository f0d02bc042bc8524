"""Failover: a provider that stops (real sockets, connection refused) hands due mail to the
config's fallback after OPENESP_FAILOVER_AFTER, and gets it back once a probe answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from openesp.delivery.worker import Worker
from openesp.esp.models import EspConfig, ProviderHealth
from openesp.esp.providers import ConnectionFailed, registry
from openesp.messaging.models import Message
from openesp.messaging.submit import parse_submission, submit
from tests.api.conftest import api_for
from tests.pigeon import PigeonProvider, PigeonServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pigeon(settings):
    server = PigeonServer().start()
    settings.OPENESP_PIGEON_API_URL = server.url
    settings.OPENESP_FAILOVER_AFTER = 300
    settings.OPENESP_FAILOVER_PROBE_EVERY = 3600  # the test says when a probe is due
    with registry.temporarily(PigeonProvider):
        yield server
    server.stop()


def _send(user, org) -> Message:
    data = {"from": user.email, "to": ["r@example.net"], "subject": "Hi", "text": "Hello"}
    [message] = submit(user, parse_submission(data), organization=org)
    return message


def _deliver(message: Message) -> Message:
    Message.objects.filter(pk=message.pk).update(not_before=timezone.now() - timedelta(seconds=1))
    worker = Worker("failover-test", pool_size=1)
    try:
        worker.run_once()
    finally:
        worker.close()
    return Message.objects.get(pk=message.pk)


def test_mail_fails_over_to_the_fallback_and_returns_after_a_probe(alice, bob, org, pigeon, mailjet_server):
    # The organization enforces Pigeon Post, with Mailjet as its fallback: it applies to bob too.
    EspConfig.objects.create(organization=org, kind="pigeon", enforced=True, fallback_kind="mailjet")
    EspConfig.objects.create(user=bob, kind="mailjet")
    assert _deliver(_send(bob, org)).provider_kind == "pigeon"

    pigeon.stop()  # connection refused from now on
    first = _deliver(_send(bob, org))
    assert (first.status, first.provider_kind) == ("deferred", "pigeon")
    health = ProviderHealth.objects.get(key="pigeon")
    assert health.failing_since is not None
    assert "could not be reached" in health.last_error

    # Not down for OPENESP_FAILOVER_AFTER yet: the primary keeps the mail.
    assert _deliver(first).status == "deferred"

    # Down for six minutes in a row: due mail goes through the fallback, with the reason.
    since = timezone.now() - timedelta(minutes=6)
    ProviderHealth.objects.filter(key="pigeon").update(failing_since=since, probed_at=None)
    moved = _deliver(first)
    assert (moved.status, moved.provider_kind) == ("sent", "mailjet")
    expected = f"Pigeon Post unreachable since {timezone.localtime(since):%H:%M}; fallback Mailjet"
    assert moved.provider_reason == expected
    assert len(mailjet_server.accepted) == 1
    assert ProviderHealth.objects.get(key="pigeon").probed_at is not None  # that round's probe failed
    owner = Client()
    owner.force_login(alice)
    note = owner.get(f"/organizations/{org.pk}/settings/").content.decode()
    assert 'data-testid="failover-note"' in note and "fallback Mailjet" in note

    # Back up, but no probe is due yet: still the fallback.
    pigeon.start()
    assert _deliver(_send(bob, org)).provider_kind == "mailjet"

    # The next probe answers: mail returns to the primary and its health is clear.
    ProviderHealth.objects.filter(key="pigeon").update(probed_at=None)
    back = _deliver(_send(bob, org))
    assert (back.status, back.provider_kind) == ("sent", "pigeon")
    assert ProviderHealth.objects.get(key="pigeon").failing_since is None


def test_without_a_fallback_mail_waits_for_its_provider(alice, org, pigeon):
    EspConfig.objects.create(user=alice, kind="pigeon")
    pigeon.stop()
    message = _deliver(_send(alice, None))
    ProviderHealth.objects.filter(key="pigeon").update(failing_since=timezone.now() - timedelta(hours=1))
    assert _deliver(message).status == "deferred"


def test_owners_set_the_fallback_in_the_api_and_the_page(alice, bob, org, settings, pigeon):
    settings.OPENESP_MAILJET_API_KEY, settings.OPENESP_MAILJET_SECRET_KEY = "mj-key", "mj-secret"
    api = api_for(alice)
    saved = api.put(f"/api/v1/organizations/{org.pk}/esp", {"kind": "pigeon", "fallback": "mailjet"})
    assert saved.status_code == 200, saved.content
    assert saved.json()["fallback"] == "mailjet"
    # Omitted keeps it; the primary as its own fallback, or an SMTP server, is refused.
    assert api.put(f"/api/v1/organizations/{org.pk}/esp", {"kind": "pigeon"}).json()["fallback"] == "mailjet"
    assert api.put(f"/api/v1/organizations/{org.pk}/esp", {"kind": "pigeon", "fallback": "pigeon"}).status_code == 422
    assert api.put(f"/api/v1/organizations/{org.pk}/esp", {"kind": "pigeon", "fallback": "smtp"}).status_code == 422
    refused = api_for(bob).put(f"/api/v1/organizations/{org.pk}/esp", {"kind": "pigeon", "fallback": ""})
    assert refused.status_code == 403

    page = Client()
    page.force_login(alice)
    assert 'data-testid="fallback-form"' in page.get(f"/organizations/{org.pk}/settings/").content.decode()
    page.post(f"/organizations/{org.pk}/settings/email/fallback/", {"fallback": ""})
    assert EspConfig.objects.get(organization=org).fallback_kind == ""
    member = Client()
    member.force_login(bob)
    assert member.post(f"/organizations/{org.pk}/settings/email/fallback/", {"fallback": "mailjet"}).status_code == 403
    assert EspConfig.objects.get(organization=org).fallback_kind == ""

    api.put("/api/v1/esp/personal", {"kind": "pigeon"})
    page.post("/account/email/fallback/", {"fallback": "mailjet"})
    assert EspConfig.objects.get(user=alice).fallback_kind == "mailjet"


def test_only_failures_to_reach_a_provider_count(settings, silent_server, smtp_server_tls, pigeon):
    from openesp.esp.failover import connection_level
    from openesp.esp.providers import MessageRejected, ProviderError, SmtpProvider, SmtpServer
    from tests.servers.smtp import closed_port

    def failure(server: SmtpServer) -> ProviderError:
        try:
            SmtpProvider(server, timeout=2).check_credentials()
        except ProviderError as exc:
            return exc
        raise AssertionError("expected a failure")

    settings.OPENESP_ALLOW_PRIVATE_SMTP_HOSTS = True
    refused = failure(SmtpServer("127.0.0.1", closed_port(), "none", "", "", guarded=False))
    timed_out = failure(SmtpServer("127.0.0.1", silent_server.port, "none", "", "", guarded=False))
    no_tls = failure(SmtpServer("127.0.0.1", smtp_server_tls.port, "starttls", "", "", guarded=False))
    assert connection_level(refused) and connection_level(timed_out) and connection_level(no_tls)
    assert connection_level(ProviderError("421 closing", step="sender", smtp_code=421))
    # The provider answered: an HTTP 503 or a refused recipient is its verdict, not an outage.
    assert not connection_level(ConnectionFailed("busy", step="send", http_status=503))
    assert not connection_level(MessageRejected("no such user", step="recipient", smtp_code=550))
