"""Errors that name the field at fault and the reason, for the UI, the API and the CLI alike."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldProblem:
    field: str
    reason: str


class InvalidInput(ValueError):
    """One or more fields are wrong. Nothing was changed."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.field}: {p.reason}" for p in problems))

    @classmethod
    def one(cls, field: str, reason: str) -> InvalidInput:
        return cls([FieldProblem(field, reason)])

    def as_dict(self) -> dict[str, str]:
        return {p.field: p.reason for p in self.problems}


class Throttled(Exception):
    """A limit refuses this now; ``retry_after`` whole seconds until it may be asked again.
    Nothing was changed (besides the limiter's own count)."""

    def __init__(self, detail: str, retry_after: float) -> None:
        self.retry_after = max(1, int(-(-retry_after // 1)))
        super().__init__(detail)
