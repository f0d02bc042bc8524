from __future__ import annotations

from django.urls import include, path

from openesp.api.main import api
from openesp.front.views.tracking import tracked_click, tracked_open

urlpatterns = [
    path("api/", api.urls),
    # Open and click tracking (public; docs/tracking.md).
    path("t/o/<str:token>.gif", tracked_open, name="track-open"),
    path("t/c/<str:token>", tracked_click, name="track-click"),
    path("", include("openesp.front.urls")),
]
