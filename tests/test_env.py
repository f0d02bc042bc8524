from __future__ import annotations

import pytest

from openesp.lib.env import ConfigError, envbool, envint, envlist, envsecret


def test_it_reads_booleans(monkeypatch):
    monkeypatch.setenv("X", "yes")
    assert envbool("X") is True
    monkeypatch.setenv("X", "off")
    assert envbool("X", True) is False
    monkeypatch.delenv("X")
    assert envbool("X", True) is True


def test_it_refuses_a_bad_boolean(monkeypatch):
    monkeypatch.setenv("X", "maybe")
    with pytest.raises(ConfigError, match="X: expected true or false"):
        envbool("X")


def test_it_checks_integers_and_bounds(monkeypatch):
    monkeypatch.setenv("N", "12")
    assert envint("N", 1) == 12
    monkeypatch.setenv("N", "twelve")
    with pytest.raises(ConfigError, match="N: expected a whole number"):
        envint("N", 1)
    monkeypatch.setenv("N", "0")
    with pytest.raises(ConfigError, match="at least 1"):
        envint("N", 1, minimum=1)


def test_it_splits_lists(monkeypatch):
    monkeypatch.setenv("L", "203.0.113.5, 203.0.113.6  2001:db8::1")
    assert envlist("L") == ["203.0.113.5", "203.0.113.6", "2001:db8::1"]


def test_it_reads_secrets_from_files(monkeypatch, tmp_path):
    secret = tmp_path / "key"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("K_FILE", str(secret))
    assert envsecret("K") == "s3cret"
    monkeypatch.setenv("K", "direct")
    with pytest.raises(ConfigError, match="both set"):
        envsecret("K")
    monkeypatch.delenv("K")
    monkeypatch.setenv("K_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="K_FILE: cannot read"):
        envsecret("K")
