"""Segments of a workspace: saved filters with a live count."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
