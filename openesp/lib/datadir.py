"""The data directory: where the embedded default keeps its database and key files."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet


def ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write_private(path: Path, content: str) -> None:
    # O_EXCL: two processes starting at once must not both write (and disagree on) a key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)


def secret_key_from_file(data_dir: Path) -> str:
    path = ensure_dir(data_dir) / "secret.key"
    if not path.exists():
        _write_private(path, secrets.token_urlsafe(50) + "\n")
    return path.read_text(encoding="utf-8").strip()


def encryption_keys_file(data_dir: Path) -> Path:
    path = ensure_dir(data_dir) / "encryption.keys"
    if not path.exists():
        _write_private(path, Fernet.generate_key().decode() + "\n")
    return path


def read_keys(text: str) -> list[str]:
    """Keys, newest (primary) first; blank lines and comments are ignored."""
    return [
        line.strip()
        for line in text.replace(",", "\n").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
