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


def gone_on_this_host(name: str, host: str | None = None) -> bool:
    """Whether ``name`` (a ``worker_name``) is of a process of this host that no longer runs.

    False when unsure — another host's process, a name of another shape, a PID that is alive
    (perhaps reused): the caller then waits for the lease to run out, as before. A process of
    another PID namespace under the same host name (two containers sharing a hostname) would
    look gone; give such containers their own host names.
    """
    owner_host, _sep, rest = name.partition(":")
    if owner_host != (host or socket.gethostname()):
        return False
    pid_text = rest.partition(":")[0]
    if not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False  # it exists (another user's), or no PID at all
    return False


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
