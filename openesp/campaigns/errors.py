"""Errors of the campaign actions, for the faces to turn into answers."""

from __future__ import annotations


class Conflict(Exception):
    """The object is not in a state that allows this (an illegal transition): a 409 in the API."""
