from __future__ import annotations

from django.urls import include, path

from openesp.api.main import api

urlpatterns = [
    path("api/", api.urls),
    # SendGrid- and Mailjet-compatible endpoints (/v3/…, /v3.1/send): docs/compatible-apis.md
    path("", include("openesp.compat.urls")),
    path("", include("openesp.front.urls")),
]
