from __future__ import annotations

from django.urls import include, path

from openesp.api.hooks import mailjet_events, sendgrid_events
from openesp.api.main import api
from openesp.front.views.tracking import tracked_click, tracked_open
from openesp.ops.metrics import metrics

urlpatterns = [
    path("api/", api.urls),
    # SendGrid- and Mailjet-compatible endpoints (/v3/…, /v3.1/send): docs/compatible-apis.md
    path("", include("openesp.compat.urls")),
    path("metrics", metrics, name="metrics"),
    path("hooks/sendgrid", sendgrid_events, name="hooks-sendgrid"),
    path("hooks/mailjet", mailjet_events, name="hooks-mailjet"),
    # Open and click tracking (public; docs/tracking.md).
    path("t/o/<str:token>.gif", tracked_open, name="track-open"),
    path("t/c/<str:token>", tracked_click, name="track-click"),
    path("", include("openesp.front.urls")),
]
