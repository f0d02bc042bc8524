"""Typed readers for settings taken from the environment.

Every helper fails loudly on a value it cannot understand: a typo in an operator's
configuration must stop start-up, not silently fall back to a default.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path


class ConfigError(Exception):
    """A setting in the environment has a value openesp cannot use."""


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}: expected true or false, got {raw!r}")


def envint(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name}: must be at most {maximum}, got {value}")
    return value


_UNITS = {"s": 1, "m": 60, "h": 3600}


def envseconds(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    """A duration in whole seconds: ``300``, ``300s``, ``5m`` or ``1h``."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    text = raw.strip().lower()
    unit = _UNITS.get(text[-1], 0)
    number = text[:-1] if unit else text
    if not number.isdigit():
        raise ConfigError(f"{name}: expected seconds (300) or a number with s, m or h (5m), got {raw!r}")
    value = int(number) * (unit or 1)
    if value < minimum:
        raise ConfigError(f"{name}: must be at least {minimum} seconds, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name}: must be at most {maximum} seconds, got {value}")
    return value


def envlist(name: str, default: list[str] | None = None) -> list[str]:
    """A comma- or whitespace-separated list."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default or [])
    return [item for item in raw.replace(",", " ").split() if item]


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def envnetworks(name: str) -> list[Network]:
    """A list of IP addresses or CIDR networks (``10.0.0.0/8, 2001:db8::1``)."""
    networks: list[Network] = []
    for item in envlist(name):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"{name}: {item!r} is not an IP address or a CIDR network") from None
    return networks


def envsecret(name: str, default: str = "") -> str:
    """A secret from NAME, or from the file named by NAME_FILE (Docker/Kubernetes secrets).

    Setting both is refused: it is ambiguous which one the operator meant.
    """
    direct = os.environ.get(name)
    file_name = os.environ.get(f"{name}_FILE")
    if direct and file_name:
        raise ConfigError(f"{name} and {name}_FILE are both set; set only one")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE: cannot read {file_name!r}: {exc.strerror}") from None
    return direct if direct is not None else default


def envfloat(name: str, default: float | None = None, *, minimum: float = 0.0) -> float | None:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}: expected a number, got {raw!r}") from None
    if value <= minimum:
        raise ConfigError(f"{name}: must be greater than {minimum:g}, got {value:g}")
    return value


def envwindow(name: str) -> tuple[int, int] | None:
    """``N/SECONDS`` (e.g. ``100000/86400``): at most N in any period of SECONDS."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    count, _sep, seconds = raw.partition("/")
    if not (count.strip().isdigit() and seconds.strip().isdigit()) or int(count) < 1 or int(seconds) < 1:
        raise ConfigError(f"{name}: expected N/SECONDS such as 100000/86400, got {raw!r}")
    return int(count), int(seconds)
