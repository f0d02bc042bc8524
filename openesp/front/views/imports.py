"""CSV imports of a workspace: upload, column mapping, progress, report."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
