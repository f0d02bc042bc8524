from __future__ import annotations

from django.urls import include, path

from openesp.api.main import api

urlpatterns = [
    path("api/", api.urls),
    path("", include("openesp.front.urls")),
]
