"""``GET /metrics`` for the operator's Prometheus, guarded by ``OPENESP_METRICS_TOKEN``.

Unset, the endpoint does not exist (404): an installation exposes nothing it was not asked to.
Set, a scrape must send ``Authorization: Bearer <token>``; anything else is a 401.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from openesp.stats.metrics import exposition


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.OPENESP_METRICS_TOKEN
    if not token:
        raise Http404("metrics are off")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = HttpResponse("a valid bearer token is required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    # The classic text format (0.0.4): every Prometheus version reads it, and our names need no escaping.
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_PLAIN_0_0_4)
