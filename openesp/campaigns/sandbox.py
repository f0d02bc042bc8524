"""The Jinja2 sandbox campaign templates run in.

Templates are written by workspace members and rendered by the delivery worker for every
recipient, so a template must not be able to reach Python internals, nor keep a worker busy or
fill its memory. ``jinja2.sandbox.SandboxedEnvironment`` already refuses attributes that start
with ``_`` and ranges over 100,000; on top of it this module

- allows only data attributes and a short list of harmless methods (``str.upper``,
  ``dict.get``…): no ``format``, no ``mro``, and ``|attr`` goes through the same check;
- offers only filters that cannot multiply their input (no ``center``, ``indent``, ``format``…),
  and checks what the ones it offers return;
- intercepts ``*``, ``**``, ``%`` and ``+`` and ``~`` (concatenation), so ``'a' * 10**9`` or a
  doubling ``~`` fails before it allocates;
- counts every piece of output, also output captured by ``{% set %}…{% endset %}``, macros and
  filter blocks (the code generator routes it through ``budget_out``), against an output budget;
- checks a time budget at every loop iteration (each ``for`` iterates through ``budget_iter``),
  call, operator and output, so a template that loops "forever" stops with an error.

The budget of the render in progress lives in a context variable, set by ``rendering``.
"""

from __future__ import annotations

import contextlib
import operator
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateRuntimeError, Undefined, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.filters import FILTERS as DEFAULT_FILTERS
from jinja2.runtime import Context, LoopContext, Macro, markup_join, str_join
from jinja2.sandbox import SandboxedEnvironment, safe_range
from markupsafe import Markup

MAX_OUTPUT = 1_000_000  # characters of one rendered part (subject, HTML or text)
MAX_SECONDS = 2.0  # time to render one part
MAX_VALUE = MAX_OUTPUT  # characters of any value built while rendering
MAX_EXPONENT = 64


class Attributes(dict[str, Any]):
    """A contact's attributes as a template sees them: a name in any case finds the attribute,
    as everywhere else (``contact.attributes.country`` finds ``Country``; docs/decisions/
    009-attribute-keys-fold-case.md). A contact holds one spelling per folded name, so there is
    at most one match."""

    def _key(self, key: str) -> str:
        if key in self.keys() or not isinstance(key, str):  # a template may index with anything
            return key
        folded = key.casefold()
        return next((k for k in self if k.casefold() == folded), key)

    def __getitem__(self, key: str) -> Any:
        return super().__getitem__(self._key(key))

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(self._key(key))

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(self._key(key), default)


class _Undefined(StrictUndefined):
    """StrictUndefined, naming ``Attributes`` a dict in its errors as before ("'dict object' has
    no attribute 'plan'"): the class is no concern of the template's author."""

    @property
    def _undefined_message(self) -> str:
        if isinstance(self._undefined_obj, Attributes) and not self._undefined_hint:
            return f"'dict object' has no attribute {self._undefined_name!r}"
        return super()._undefined_message


# Methods a template may call on plain data. Each returns something no larger than its input.
_SAFE_METHODS: dict[type, frozenset[str]] = {
    str: frozenset(
        {"upper", "lower", "title", "capitalize", "strip", "lstrip", "rstrip", "startswith", "endswith", "split"}
    ),
    Markup: frozenset({"upper", "lower", "title", "capitalize", "strip", "lstrip", "rstrip", "startswith", "endswith"}),
    dict: frozenset({"get", "items", "keys", "values"}),
    Attributes: frozenset({"get", "items", "keys", "values"}),
}

# Filters whose result is no larger than their input (or a number); ``replace`` is checked.
_FILTERS = (
    "abs", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first", "float", "int", "items",
    "join", "last", "length", "list", "lower", "max", "min", "replace", "reverse", "round", "sort", "string",
    "striptags", "sum", "title", "tojson", "trim", "truncate", "unique", "upper", "urlencode", "wordcount",
)  # fmt: skip


class RenderLimit(TemplateRuntimeError):
    """The template went over its time or size budget."""


@dataclass
class _Budget:
    deadline: float
    seconds: float
    remaining: int
    limit: int


_budget: ContextVar[_Budget | None] = ContextVar("openesp_template_budget", default=None)


@contextlib.contextmanager
def rendering(*, max_output: int = MAX_OUTPUT, max_seconds: float = MAX_SECONDS) -> Iterator[None]:
    """The budget for one render: ``max_output`` characters in ``max_seconds``."""
    token = _budget.set(_Budget(time.monotonic() + max_seconds, max_seconds, max_output, max_output))
    try:
        yield
    finally:
        _budget.reset(token)


def _tick() -> None:
    budget = _budget.get()
    if budget is not None and time.monotonic() > budget.deadline:
        raise RenderLimit(f"rendering took longer than {budget.seconds:g} seconds (a loop that does not end?)")


def _check_size(value: Any) -> Any:
    if isinstance(value, str | list | tuple | dict) and len(value) > MAX_VALUE:
        raise RenderLimit(f"a value grew past {MAX_VALUE:,} characters or items")
    return value


def _checked_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def checked(*args: Any, **kwargs: Any) -> Any:
        _tick()
        for value in (*args, *kwargs.values()):
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_VALUE:
                raise RenderLimit(f"the {name} filter got a number larger than {MAX_VALUE:,}")
        if name == "replace":
            _check_replace(args, kwargs)
        return _check_size(function(*args, **kwargs))

    # Keep what Jinja reads to pass the environment, the context or the eval context first.
    for attribute in ("jinja_pass_arg",):
        if hasattr(function, attribute):
            setattr(checked, attribute, getattr(function, attribute))
    return checked


def _check_replace(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    # replace(value, old, new): the result can be len(value) / len(old) * len(new) long.
    values = list(args)
    if values and not isinstance(values[0], str):  # the eval context comes first
        values = values[1:]
    value, old, new = ([*values, kwargs.get("old", ""), kwargs.get("new", "")])[:3]
    growth = (len(str(value)) // max(1, len(str(old)))) * len(str(new))
    if growth > MAX_VALUE:
        raise RenderLimit(f"the replace filter would build more than {MAX_VALUE:,} characters")


class _Generator(CodeGenerator):
    """Jinja's code generator, with every output, loop and concatenation counted."""

    def _output_const_repr(self, group: Iterable[Any]) -> str:
        return f"environment.budget_out({super()._output_const_repr(group)})"

    def _output_child_pre(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        self.write("environment.budget_out(")
        super()._output_child_pre(node, frame, finalize)

    def _output_child_post(self, node: nodes.Expr, frame: Frame, finalize: Any) -> None:
        super()._output_child_post(node, frame, finalize)
        self.write(")")

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        node.iter = nodes.Call(nodes.EnvironmentAttribute("budget_iter"), [node.iter], [], None, None)
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.budget_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("), context.eval_ctx.autoescape)")


class TemplateSandbox(SandboxedEnvironment):
    code_generator_class = _Generator
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, *, autoescape: bool) -> None:
        super().__init__(autoescape=autoescape, undefined=_Undefined, loader=None, auto_reload=False)
        self.filters = {name: _checked_filter(name, DEFAULT_FILTERS[name]) for name in _FILTERS}
        # No namespace() (a mutable accumulator), no lipsum, dict, cycler or joiner.
        self.globals = {"range": safe_range}

    # --- what the sandbox allows -----------------------------------------------------------------

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if isinstance(obj, LoopContext | Macro):
            return True
        if callable(value):
            return attr in _SAFE_METHODS.get(type(obj), frozenset())
        return True

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        # Named a dict, as before: ``Attributes`` is no concern of the template's author.
        return super().unsafe_undefined(dict(obj) if isinstance(obj, Attributes) else obj, attribute)

    def wrap_str_format(self, value: Any) -> None:
        # No str.format at all (Jinja would hand out a sandboxed one): "{:>999999999}" needs no
        # attribute to allocate a gigabyte. is_safe_attribute then refuses the method.
        return None

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _tick()
        for value in (*args, *kwargs.values()):
            _check_size(value)
        return _check_size(super().call(__context, __obj, *args, **kwargs))

    def call_binop(self, context: Context, operator_: str, left: Any, right: Any) -> Any:
        _tick()
        if operator_ == "%" and isinstance(left, str):
            raise RenderLimit("formatting text with % is not available in templates")
        if operator_ == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise RenderLimit(f"exponents above {MAX_EXPONENT} are not available in templates")
        if operator_ == "*":
            sized, times = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(sized, str | list | tuple) and isinstance(times, int) and len(sized) * times > MAX_VALUE:
                raise RenderLimit(f"a value would grow past {MAX_VALUE:,} characters or items")
            if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > 256:
                raise RenderLimit("numbers this large are not available in templates")
        sequences = isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple)
        if operator_ == "+" and sequences and len(left) + len(right) > MAX_VALUE:
            raise RenderLimit(f"a value would grow past {MAX_VALUE:,} characters or items")
        return _BINOPS[operator_](left, right)

    # --- the budget, called from the generated code ----------------------------------------------

    def budget_out(self, value: str) -> str:
        budget = _budget.get()
        if budget is not None:
            budget.remaining -= len(value)
            if budget.remaining < 0:
                raise RenderLimit(f"the output is larger than {budget.limit:,} characters")
            if time.monotonic() > budget.deadline:
                _tick()
        return value

    def budget_iter(self, iterable: Any) -> Iterator[Any]:
        for item in iterable:
            _tick()
            yield item

    def budget_concat(self, parts: tuple[Any, ...], autoescape: bool) -> str:
        _tick()
        if sum(len(str(part)) for part in parts) > MAX_VALUE:
            raise RenderLimit(f"a value would grow past {MAX_VALUE:,} characters")
        return markup_join(parts) if autoescape else str_join(parts)


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "*": operator.mul,
    "**": operator.pow,
    "%": operator.mod,
    "+": operator.add,
}
