"""openesp.lib.heap: what a long-running process does with the garbage collector once started."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from openesp.lib.heap import THRESHOLDS, settle


class Node:
    """A container in a reference cycle: only the cycle collector frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def restored() -> Iterator[None]:
    """The test process's collector as it was (settle changes it for the whole process)."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_what_lives_at_start_up_is_frozen_and_what_comes_later_is_collected(restored):
    before = Node()
    alive_before = weakref.ref(before)
    settle()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == THRESHOLDS
    later = Node()
    alive_later = weakref.ref(later)
    del before, later
    gc.collect()
    # Frozen: no collection visits it, so its cycle outlives the last reference.
    assert alive_before() is not None
    assert alive_later() is None  # made after start-up: collected as always
    gc.unfreeze()
    gc.collect()
    assert alive_before() is None


def test_settling_says_so_in_the_log(restored, caplog):
    with caplog.at_level("INFO", logger="openesp.lib.heap"):
        settle()
    assert "objects frozen out of the garbage collector's way" in caplog.text
