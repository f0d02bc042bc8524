"""Making many unsaved model instances that differ in a few fields, without ``Model.__init__``.

Accepting a batch builds one Message and one Event per recipient. ``Model(**kwargs)`` walks
every field of the model for each (defaults, relations, descriptors): about 40 µs for a
Message on the project's machine, where copying a template's attributes takes 5 — for 500
messages a request, the difference was a tenth of its time (docs/benchmarks.md, "Accepting
mail over HTTP"). ``like`` makes an instance as ``Model(**kwargs)`` would have made it, from
a template made the ordinary way.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.base import ModelState


def like[M: models.Model](template: M, **changes: Any) -> M:
    """A new unsaved instance with ``template``'s field values and cached related objects,
    then ``changes`` (attribute names: ``public_id``, ``workspace_id``, not relation names).

    ``template`` must be unsaved. No ``pre_init``/``post_init`` signal is sent: use it only for
    models nothing listens to that way (openesp has no such listener). Values are shared, not
    copied: a dict or list in the template is the same object in every instance made from it.
    """
    assert template.pk is None, "like() copies unsaved templates only"
    made = bare(template.__class__, {**template.__dict__, **changes})  # adding, no database yet
    made._state.fields_cache = dict(template._state.fields_cache)
    return made


def bare[M: models.Model](model: type[M], fields: dict[str, Any], *, db: str | None = None) -> M:
    """An instance of ``model`` holding ``fields`` (attribute names) and nothing else — a field
    not among them is deferred — without ``Model.__init__`` and its signals: new and unsaved, or
    with ``db`` a row read from that database (``lib.fastread``). ``fields`` becomes the
    instance's own dict."""
    made = model.__new__(model)
    state = ModelState()
    if db is not None:
        state.adding, state.db = False, db
    fields["_state"] = state
    made.__dict__ = fields
    return made
