"""Rendering and signing without Django, so that build processes can import it cheaply.

A build process (``Worker(build_processes=N)``) receives ``BuildJob``s and returns, per job, the
bytes to send. The DKIM keys travel as PEM and are parsed once per process (``DkimKey.from_pem``).
A campaign message arrives as its template's source and the recipient's context (plain data,
``Personal``): the build process renders it (Jinja in the sandbox, CSS inlined, compiled once
per process and version), derives the text part, tracks the HTML (``tracking.rewrite``), builds
the MIME and signs it — all the CPU work of a message, off the worker's own process. A template
that fails for one recipient fails that job only (its reason comes back instead of bytes).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from openesp.campaigns.compiled import Source, TemplateError, render_compiled
from openesp.delivery.dkim import DkimKey
from openesp.delivery.mime import OutgoingMail
from openesp.delivery.relayed import prepare
from openesp.lib.htmltext import html_to_text
from openesp.tracking.rewrite import Tracker, tracked_html


@dataclass(frozen=True)
class Personal:
    """A campaign message's template and its recipient's context (``campaigns.render.Prepared``)."""

    source: Source
    context: dict[str, Any]


@dataclass(frozen=True)
class Tracking:
    message_id: int
    opens: bool
    clicks: bool
    tracker: Tracker  # one object for a batch: pickled once per hand-off


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
    personal: Personal | None = None  # rendered here: mail's subject, HTML and text come from it
    tracking: Tracking | None = None  # the HTML's links and open pixel (not for ``raw``: tracked before)


# What a build returns per job: the bytes and the subject sent (a campaign message's is rendered
# here; the worker keeps it for the message log), or empty bytes and the reason it failed.
Built = tuple[bytes, str, str]


def content(job: BuildJob) -> OutgoingMail:
    """The mail with its rendered and tracked content (TemplateError for a failing template)."""
    mail = job.mail
    if job.personal is not None:
        rendered = render_compiled(job.personal.source.compiled(), job.personal.context, derive_text=False)
        mail = replace(mail, subject=rendered.subject, html=rendered.html, text=rendered.text)
    tracking = job.tracking
    if tracking is not None and mail.html:
        # The text part is derived from the HTML as written, not from the tracked links.
        text = mail.text or html_to_text(mail.html)
        html = tracked_html(
            mail.html, tracking.message_id, opens=tracking.opens, clicks=tracking.clicks, tracker=tracking.tracker
        )
        mail = replace(mail, html=html, text=text)
    return mail


def _signed(job: BuildJob) -> tuple[bytes, str]:
    if job.raw:
        raw = prepare(job.raw, message_id=job.mail.message_id, from_header=job.from_header, to_header=job.to_header)
        subject = job.mail.subject
    else:
        mail = content(job)
        raw, subject = mail.to_bytes(to_header=job.to_header, cc_header=job.cc_header), mail.subject
    for signer in job.signers:
        raw = signer.sign(raw)
    return raw, subject


def render(job: BuildJob) -> bytes:
    """The bytes to send (TemplateError when a campaign message's template fails)."""
    return _signed(job)[0]


def build_one(job: BuildJob) -> Built:
    try:
        raw, subject = _signed(job)
    except TemplateError as exc:
        return b"", "", str(exc)
    return raw, subject, ""


def render_many(jobs: list[BuildJob]) -> list[Built]:
    return [build_one(job) for job in jobs]
