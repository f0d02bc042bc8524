from __future__ import annotations

from django.urls import include, path

from openesp.api.main import api
from openesp.ops.metrics import metrics

urlpatterns = [
    path("api/", api.urls),
    path("metrics", metrics, name="metrics"),
    path("", include("openesp.front.urls")),
]
