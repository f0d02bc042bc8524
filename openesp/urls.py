from __future__ import annotations

from django.urls import include, path

from openesp.api.hooks import mailjet_events, sendgrid_events
from openesp.api.main import api

urlpatterns = [
    path("api/", api.urls),
    path("hooks/sendgrid", sendgrid_events, name="hooks-sendgrid"),
    path("hooks/mailjet", mailjet_events, name="hooks-mailjet"),
    path("", include("openesp.front.urls")),
]
