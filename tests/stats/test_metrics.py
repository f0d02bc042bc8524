"""``GET /metrics``: Prometheus text over real HTTP, guarded by ``OPENESP_METRICS_TOKEN``."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from openesp.lib import gauges
from openesp.messaging.eventlog import add_events
from openesp.messaging.models import Event, EventType, Message
from openesp.messaging.submit import parse_submission, submit

TOKEN = "scrape-token-7Hq"


@pytest.fixture
def metrics_url(live_server, settings) -> str:
    settings.OPENESP_METRICS_TOKEN = TOKEN
    return f"{live_server.url}/metrics"


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_it_is_not_there_without_a_token(live_server, settings):
    settings.OPENESP_METRICS_TOKEN = ""
    assert httpx.get(f"{live_server.url}/metrics").status_code == 404
    assert httpx.get(f"{live_server.url}/metrics", headers={"Authorization": "Bearer x"}).status_code == 404


def test_a_scrape_without_the_token_is_401(metrics_url):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        response = httpx.get(metrics_url, headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert TOKEN not in response.text


def test_it_reports_the_queue_sends_bounces_latency_and_registered_gauges(metrics_url, alice, org, workspace):
    body = {"from": "alice@example.org", "to": ["a@example.com", "b@example.com", "c@example.com"], "subject": "Hi",
            "text": "Hi"}  # fmt: skip
    a, b, c = submit(alice, parse_submission(body), workspace=workspace, organization=org)
    Message.objects.filter(pk__in=[a.pk, b.pk]).update(provider_kind="smtp", status="sent")
    Message.objects.filter(pk=c.pk).update(status="deferred")
    accepted = Message.objects.get(pk=a.pk).created_at
    add_events(
        [
            Event(message=a, type=EventType.SENT, created_at=accepted + timedelta(seconds=2)),
            Event(message=b, type=EventType.SENT, created_at=accepted + timedelta(seconds=40)),
            Event(message=b, type=EventType.BOUNCED, created_at=accepted, data={"bounce": "hard"}),
        ]
    )
    real = gauges._gauges.get("openesp_webhook_backlog")
    gauges.register_gauge("openesp_webhook_backlog", "Webhook deliveries waiting", lambda: [({}, 7.0)])
    try:
        response = httpx.get(metrics_url, headers={"Authorization": f"Bearer {TOKEN}"})
    finally:
        gauges._gauges.pop("openesp_webhook_backlog")
        if real is not None:  # hooksout's own reader, registered when Django started
            gauges._gauges[real.name] = real
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = _samples(response.text)
    assert samples[("openesp_queue_messages", (("status", "deferred"),))] == 1
    assert samples[("openesp_queue_messages", (("status", "queued"),))] == 0
    assert samples[("openesp_messages_sent_total", (("provider", "smtp"),))] == 2
    assert samples[("openesp_messages_bounced_total", (("kind", "hard"), ("provider", "smtp")))] == 1
    assert samples[("openesp_send_latency_seconds_bucket", (("le", "1.0"), ("provider", "smtp")))] == 0
    assert samples[("openesp_send_latency_seconds_bucket", (("le", "5.0"), ("provider", "smtp")))] == 1
    assert samples[("openesp_send_latency_seconds_bucket", (("le", "+Inf"), ("provider", "smtp")))] == 2
    assert samples[("openesp_send_latency_seconds_count", (("provider", "smtp"),))] == 2
    assert samples[("openesp_send_latency_seconds_sum", (("provider", "smtp"),))] == pytest.approx(42)
    assert samples[("openesp_webhook_backlog", ())] == 7
