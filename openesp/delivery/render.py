"""Rendering and signing without Django, so that build processes can import it cheaply.

A build process (``Worker(build_processes=N)``) receives ``BuildJob``s and returns the bytes to
send; the DKIM keys travel as PEM and are parsed once per process (``DkimKey.from_pem``).
"""

from __future__ import annotations

from dataclasses import dataclass

from openesp.delivery.dkim import DkimKey
from openesp.delivery.mime import OutgoingMail
from openesp.delivery.relayed import prepare


@dataclass(frozen=True)
class BuildJob:
    """Everything needed to render one message, picklable for a build process."""

    mail: OutgoingMail
    to_header: str
    cc_header: str
    signers: tuple[DkimKey, ...]
    # Mail that came in over SMTP: sent as it came (``relayed.prepare``), not built from ``mail``.
    raw: bytes = b""
    from_header: str = ""  # a From that replaces the relayed message's own (custom SMTP server)


def render(job: BuildJob) -> bytes:
    if job.raw:
        raw = prepare(job.raw, message_id=job.mail.message_id, from_header=job.from_header, to_header=job.to_header)
    else:
        raw = job.mail.to_bytes(to_header=job.to_header, cc_header=job.cc_header)
    for signer in job.signers:
        raw = signer.sign(raw)
    return raw


def render_many(jobs: list[BuildJob]) -> list[bytes]:
    return [render(job) for job in jobs]
