"""Contacts, lists and suppressions of a workspace."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
