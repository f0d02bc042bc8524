"""Processes that do background work: their names, and how a spawned helper starts.

A lease row records its owner's name so that a takeover can tell a live owner from a dead one,
and an operator can see which process on which host holds what. It lives in ``lib`` because
both delivery and the audience imports use it, and neither may import the other.
"""

from __future__ import annotations

import os
import random
import socket

from openesp.lib.children import die_with_parent


def worker_name() -> str:
    """``host:pid:random``: unique among the processes alive at once, readable in the database."""
    return f"{socket.gethostname()}:{os.getpid()}:{random.randrange(16**6):06x}"


def setup_django() -> None:
    """Initializer of a spawned helper process: set Django up before any task arrives.

    The process unpickles a reference to this function before Django is set up, so it lives in a
    module that imports no models (and names the settings by the inherited environment).
    """
    import django

    django.setup()


def setup_helper(parent_pid: int) -> None:
    """Initializer of a spawned helper process that must end with its parent, however it ends

    (``initargs=(os.getpid(),)``), then set Django up: a killed import runner leaves no helper behind.
    """
    die_with_parent(parent_pid)
    setup_django()
