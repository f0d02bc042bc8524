"""Where a sent message's CPU goes, step by step, in microseconds.

    python -m bench.steps [--messages 500] [--repeat 7] [--database-url URL]

The sending benchmarks (``bench.delivery``, ``bench.campaign --send``) time the whole path —
worker, build processes, SMTP, smtp-sink — and their rate moves by 10 to 20 % between two runs on
a shared two-core machine, more than most single changes save. This one times the steps of one
batch in this process alone, each as the least CPU time (``time.process_time``) of ``--repeat``
runs over the batch, divided by its size: the same code gives the same figures within a few
per cent, so a change to one step shows in that step's line.

Two kinds of message, made as those benchmarks make them, in a fresh data directory (or a scratch
PostgreSQL database): a transactional message with its own 10.7 KB body (``bench.delivery``),
and a campaign invitation rendered per recipient from ``bench.campaign_send``'s template. Both
are signed with RSA-2048. The steps are the worker's (load the claimed batch, prepare the
campaign messages, make the build jobs), the build processes' (render, derive the text part,
track, MIME, sign) and the hand-off between them (pickling a job there and its bytes back).
Not timed here: claiming and recording (their cost is mostly the database's writes and
commits, which repeat badly) and SMTP. Last line: ``delivery_us=<f> campaign_us=<f>``, the sum
of each kind's steps.
"""

from __future__ import annotations

import argparse
import pickle
import time
from collections.abc import Callable
from dataclasses import replace

from bench.site import scratch_site


def least_cpu(repeat: int, count: int, step: Callable[[], object]) -> float:
    """Microseconds of CPU per message: the least of ``repeat`` runs of ``step`` over ``count``."""
    step()  # warm: caches, compiled templates, parsed keys
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        step()
        best = min(best, time.process_time() - started)
    return best * 1e6 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=500, help="a batch: the worker's default size")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--database-url", help="a PostgreSQL server to make a scratch database on")
    args = parser.parse_args()
    with scratch_site("openesp-bench-steps-", args.database_url):
        run(args)


def run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    print(f"database: {connection.vendor}; {args.messages} messages a batch, least CPU of {args.repeat} runs")
    delivery = _steps(args, _transactional_batch(args.messages))
    campaign = _steps(args, _campaign_batch(args.messages))
    print(f"delivery_us={sum(delivery.values()):.1f} campaign_us={sum(campaign.values()):.1f}")


def _transactional_batch(count: int) -> list[int]:
    from django.utils import timezone

    from bench.delivery import PARAGRAPH
    from openesp.delivery.domains import add_dkim_key
    from openesp.messaging.models import Message
    from openesp.messaging.senders import add_sending_domain

    add_dkim_key(add_sending_domain("news.example.org"), algorithm="rsa", selector="bench")
    html = "<html><body>" + "".join(f"<p>{PARAGRAPH * 3}</p>" for _ in range(14)) + "</body></html>"
    text = "\n\n".join(PARAGRAPH * 3 for _ in range(8))
    now = timezone.now()
    made = Message.objects.bulk_create(
        Message(category="transactional", from_email="news@news.example.org", from_name="Example News",  # type: ignore[misc]  # text_body: a property (MessageBody), not a field
                to_email=f"reader{i}@example.net", to_name=f"Reader {i}", subject=f"Your November update, Reader {i}",
                text_body=f"Hello Reader {i},\n\n{text}", html_body=f"<p>Hello Reader {i},</p>{html}",
                created_at=now, not_before=now, lease_owner="bench")
        for i in range(count)
    )  # fmt: skip
    return [m.pk for m in made]


def _campaign_batch(count: int) -> list[int]:
    from django.utils import timezone

    from bench import campaign_send
    from bench.campaign import make_audience
    from openesp.accounts.models import Membership, Organization, Role, User, Workspace
    from openesp.audience.models import ContactList
    from openesp.campaigns.campaigns import create_campaign, schedule_campaign
    from openesp.campaigns.scheduling import start_campaign
    from openesp.campaigns.templates import create_template
    from openesp.messaging.models import Category, Message

    user = User.objects.create_user("bench@example.org", "bench-password-123", name="Bench", email_verified=True)
    org = Organization.objects.create(name="Bench")
    Membership.objects.create(organization=org, user=user, role=Role.OWNER)
    workspace = Workspace.objects.create(organization=org, name="Bench")
    everyone = ContactList.objects.create(workspace=workspace, name="Everyone")
    make_audience(workspace.pk, everyone.pk, count + count // 30 + 10)  # a few are excluded
    version = create_template(
        workspace, name="Invitation", subject=campaign_send.SUBJECT, html=campaign_send.HTML, actor=user
    )
    campaign = create_campaign(
        workspace, user, name="Bench", template_version=version, from_email=user.email, lists=[everyone]
    )
    now = timezone.now()
    schedule_campaign(campaign, now=now)
    assert start_campaign(campaign.pk, now)
    campaign_send.sign_with_rsa(user.email)
    invitations = Message.objects.filter(category=Category.INVITATION).order_by("id")
    ids = list(invitations.values_list("id", flat=True)[:count])
    Message.objects.filter(id__in=ids).update(lease_owner="bench")
    return ids


def steps_of(ids: list[int]) -> tuple[str, dict[str, Callable[[], object]], list[bytes]]:
    """The kind of the batch ``ids`` (delivery or campaign), each step as a function that runs
    it over the whole batch, and the messages as built. Lines starting with two spaces are a
    part of the step above them, not counted in the sum. Also used by ``bench.instructions``."""
    from openesp.campaigns.render import Prepared
    from openesp.delivery.build import SignerCache, campaign_content, job_for
    from openesp.delivery.claim import load
    from openesp.delivery.render import BuildJob, content, render_many
    from openesp.lib.htmltext import html_to_text

    messages = load(ids, "bench")
    kind = "campaign" if messages[0].category == "invitation" else "delivery"
    prepared = campaign_content(messages)
    cache = SignerCache()

    def jobs() -> list[BuildJob]:
        made = []
        for m in messages:
            ready = prepared.get(m.pk)
            assert ready is None or isinstance(ready, Prepared), ready  # the bench's messages all render
            made.append(job_for(m, signers=cache.signers(m.from_email, m.workspace_id), prepared=ready))
        return made

    made = jobs()
    unsigned = [replace(job, signers=()) for job in made]
    mails = [content(job) for job in made]
    # The HTML of messages whose text part is made from it (in ``content`` when the links are
    # tracked, else in ``to_bytes``): as rendered, before tracking.
    derived = [m.html for m in (content(replace(j, tracking=None)) for j in made) if m.html and not m.text]
    built = render_many(made)
    plain = [b for b, _subject, _error in render_many(unsigned)]
    steps: dict[str, Callable[[], object]] = {
        "load the claimed batch": lambda: load(ids, "bench"),
        "prepare campaign messages": lambda: campaign_content(messages),
        "make the build jobs": jobs,
        "hand the jobs over (pickle both ways)": lambda: pickle.loads(pickle.dumps(made, pickle.HIGHEST_PROTOCOL)),
        "render, track (campaign: Jinja)": lambda: [content(j) for j in made],
        "MIME (quoted-printable)": lambda: [
            m.to_bytes(to_header=j.to_header) for m, j in zip(mails, made, strict=True)
        ],
        "  of these two: the text part from the HTML": lambda: [html_to_text(h) for h in derived],
        "DKIM signature (RSA-2048)": lambda: [j.signers[0].sign(b) for j, b in zip(made, plain, strict=True)],
        "hand the bytes back (pickle both ways)": lambda: pickle.loads(pickle.dumps(built, pickle.HIGHEST_PROTOCOL)),
    }
    if kind == "delivery":
        del steps["prepare campaign messages"]
    if not derived:  # every message has its own text part
        del steps["  of these two: the text part from the HTML"]
    return kind, steps, [b for b, _s, _e in built]


def _steps(args: argparse.Namespace, ids: list[int]) -> dict[str, float]:
    count = len(ids)
    kind, steps, built = steps_of(ids)
    figures = {name: least_cpu(args.repeat, count, step) for name, step in steps.items()}
    size = sum(len(b) for b in built) / count / 1024
    print(f"\n{kind}: {count} messages, {size:.1f} KB each as sent")
    for name, value in figures.items():
        print(f"  {name:<42} {value:8.1f} µs")
    summed = {name: value for name, value in figures.items() if not name.startswith("  ")}
    print(f"  {'all of these':<42} {sum(summed.values()):8.1f} µs")
    return summed


if __name__ == "__main__":
    main()
