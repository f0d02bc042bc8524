"""Rendering and signing without Django, so that build processes can import it cheaply.

A build process (``Worker(build_processes=N)``) receives ``BuildJob``s and returns the bytes to
send; the DKIM keys travel as PEM and are parsed once per process (``DkimKey.from_pem``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import threading
import time
from dataclasses import dataclass

from openesp.delivery.dkim import DkimKey
from openesp.delivery.mime import OutgoingMail

WATCHDOG_SECONDS = 1.0


@dataclass(frozen=True)
class BuildJob:
    """Everything needed to render one message, picklable for a build process."""

    mail: OutgoingMail
    to_header: str
    cc_header: str
    signers: tuple[DkimKey, ...]


def render(job: BuildJob) -> bytes:
    raw = job.mail.to_bytes(to_header=job.to_header, cc_header=job.cc_header)
    for signer in job.signers:
        raw = signer.sign(raw)
    return raw


def render_many(jobs: list[BuildJob]) -> list[bytes]:
    return [render(job) for job in jobs]


def die_with_parent(parent_pid: int) -> None:
    """Make this build process end when its worker ends, however the worker ends.

    Two guards, because either alone has a gap: Linux's PR_SET_PDEATHSIG delivers SIGTERM the
    moment the parent dies (also by SIGKILL) but does not exist elsewhere; a watchdog thread
    notices that the parent is gone (we were re-parented) within a second, everywhere.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the watchdog below still ends us
        pass
    if os.getppid() != parent_pid:  # the worker died before the signal was armed
        os._exit(0)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="openesp-parent-watchdog", daemon=True).start()


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(WATCHDOG_SECONDS)
    os._exit(0)  # no clean-up to do: a build process holds nothing but its inputs
