"""Rendering and signing without Django, so that build processes can import it cheaply.

A build process (``Worker(build_processes=N)``) receives ``BuildJob``s and returns the bytes to
send; the DKIM keys travel as PEM and are parsed once per process (``DkimKey.from_pem``).
"""

from __future__ import annotations

from dataclasses import dataclass

from openesp.delivery.dkim import DkimKey
from openesp.delivery.mime import OutgoingMail


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
