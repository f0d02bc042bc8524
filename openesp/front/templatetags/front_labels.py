"""Labels for codes the database keeps as short words: where a suppression came from is stored
as ``admin``, ``api``, ``delivery``… and shown in the page's language."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext_lazy as _

from openesp.audience.models import ConsentSource

register = template.Library()

_EXTRA = {
    "delivery": _("Delivery (bounce)"),
    "complaint": _("Complaint"),
    "cli": _("Command line"),
}


@register.filter
def source_label(code: str) -> str:
    """``admin`` → "Administrator" (Swedish: "Administratör"); an unknown code as it is."""
    labels = {value: label for value, label in ConsentSource.choices}
    return str(labels.get(code) or _EXTRA.get(code) or code)
