"""Categories of a workspace, and the public pages a recipient reaches from a mail:
the double opt-in confirmation and the preference centre (token links, no login)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
