from __future__ import annotations

from django.urls import include, path

from openesp.api.hooks import mailjet_events, sendgrid_events
from openesp.api.main import api
from openesp.ops.metrics import metrics

urlpatterns = [
    path("api/", api.urls),
    # SendGrid- and Mailjet-compatible endpoints (/v3/…, /v3.1/send): docs/compatible-apis.md
    path("", include("openesp.compat.urls")),
    path("metrics", metrics, name="metrics"),
    path("hooks/sendgrid", sendgrid_events, name="hooks-sendgrid"),
    path("hooks/mailjet", mailjet_events, name="hooks-mailjet"),
    path("", include("openesp.front.urls")),
]
