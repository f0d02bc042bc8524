from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path


def _todo(request: HttpRequest, *args: str) -> HttpResponse:
    return HttpResponse("openesp")


urlpatterns = [
    path("", _todo, name="home"),
    path("login/", _todo, name="login"),
    path("verify/<str:token>/", _todo, name="verify-email"),
    path("reset/<str:uidb64>/<str:token>/", _todo, name="password-reset-confirm"),
    path("invitations/<str:token>/", _todo, name="invitation"),
]
