"""The registry of provider classes: the one list the rest of openesp iterates.

``openesp/esp/providers/__init__.py`` adds the built-in providers, one line each. A test (or a
plug-in) may add a class of its own with ``registry.temporarily(cls)`` / ``registry.add(cls)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from openesp.esp.providers.base import Provider

_KIND = re.compile(r"^[a-z][a-z0-9_]{0,19}\Z")  # fits EspConfig.kind and Message.provider_kind
# Kinds with another meaning in a route: the operator's relay, and "nothing configured".
_RESERVED = frozenset({"relay", "none"})


class Registry:
    def __init__(self) -> None:
        self._classes: dict[str, type[Provider]] = {}

    def add[P: type[Provider]](self, cls: P) -> P:
        kind = getattr(cls, "kind", "")
        if not _KIND.match(kind) or kind in _RESERVED:
            raise ValueError(f"provider kind {kind!r} must match {_KIND.pattern} and not be relay or none")
        if kind in self._classes and self._classes[kind] is not cls:
            raise ValueError(f"a provider of kind {kind!r} is registered already")
        self._classes[kind] = cls
        return cls

    def remove(self, kind: str) -> None:
        self._classes.pop(kind, None)

    @contextmanager
    def temporarily(self, cls: type[Provider]) -> Iterator[type[Provider]]:
        self.add(cls)
        try:
            yield cls
        finally:
            self.remove(cls.kind)

    def get(self, kind: str) -> type[Provider] | None:
        return self._classes.get(kind)

    def __iter__(self) -> Iterator[type[Provider]]:
        return iter(list(self._classes.values()))

    def __contains__(self, kind: object) -> bool:
        return kind in self._classes

    def kinds(self) -> list[str]:
        return list(self._classes)

    def operator_run(self) -> list[type[Provider]]:
        """The standard providers: run by the operator and chosen by kind alone."""
        return [cls for cls in self if not cls.customer_server]

    def usable(self, kind: str) -> bool:
        """Whether a config of this kind can send today: a customer's server always may (its
        own checks come when it connects); an operator-run provider once the operator set it up."""
        cls = self.get(kind)
        return cls is not None and (cls.customer_server or cls.configured())


registry = Registry()
