"""The repository stands alone: nothing in it cites or reads files from outside it.

A fresh clone, with nothing beside it, must run and explain itself: no source or document
points at design notes a reader cannot open, and no test reads a file outside the repository
(the SendGrid specification it checks against is vendored under ``tests/specs/``).
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUTSIDE = re.compile(r"DESIGN\.md|STYLE\.md|\.\./shared|parents\[\d\]\s*/\s*\"\.\.\"")
SCANNED = ("openesp", "tests", "docs", "bench", "scripts", ".ci")
TOP_FILES = ("README.md", "pyproject.toml")


def _files() -> list[Path]:
    files = [REPO / name for name in TOP_FILES]
    for top in SCANNED:
        for path in (REPO / top).rglob("*"):
            if path.is_file() and path.suffix in {".py", ".md", ".toml", ".txt", ".html", ".cfg", ""}:
                files.append(path)
    return [f for f in files if f.resolve() != Path(__file__).resolve() and "__pycache__" not in f.parts]


def test_it_cites_and_reads_nothing_outside_the_repository():
    citing = set()
    for path in _files():
        text = path.read_text(encoding="utf-8", errors="replace")
        if OUTSIDE.search(text):
            citing.add(path.relative_to(REPO).as_posix())
    assert citing == set()


def test_the_vendored_sendgrid_spec_comes_with_its_licence():
    specs = REPO / "tests" / "specs"
    assert (specs / "sendgrid-mail-v3.openapi.json").is_file()
    assert "MIT License" in (specs / "sendgrid-oai.LICENSE").read_text(encoding="utf-8")


def test_the_runtime_copy_of_the_sendgrid_spec_comes_with_its_licence():
    schemas = REPO / "openesp" / "compat" / "schemas"
    assert (schemas / "sendgrid-mail-v3.openapi.json").read_bytes() == (
        REPO / "tests" / "specs" / "sendgrid-mail-v3.openapi.json"
    ).read_bytes()
    assert "MIT License" in (schemas / "sendgrid-oai.LICENSE").read_text(encoding="utf-8")

