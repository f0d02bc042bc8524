"""``tracking.links.tracked_mime``: a whole message's HTML parts tracked (mail that came in over
SMTP and asked for tracking), everything else kept."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

from openesp.tracking.links import tracked_mime

LINK = '<html><body><a href="https://shop.example/a">a</a></body></html>'


def _parsed(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_a_single_html_part_is_tracked_and_its_headers_kept():
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "a@example.org", "b@example.net", "Hej åäö"
    mail.set_content(LINK, subtype="html")
    tracked = _parsed(tracked_mime(mail.as_bytes(), 7, opens=True, clicks=True))
    assert tracked["Subject"] == "Hej åäö" and tracked["To"] == "b@example.net"
    html = tracked.get_content()
    assert "/t/c/" in html and "/t/o/" in html and "https://shop.example/a" not in html


def test_a_base64_part_stays_base64_and_an_html_attachment_is_left_alone():
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "a@example.org", "b@example.net", "x"
    mail.set_content("text")
    mail.add_alternative(LINK, subtype="html", cte="base64")
    mail.add_attachment(LINK.encode(), maintype="text", subtype="html", filename="page.html")
    tracked = _parsed(tracked_mime(mail.as_bytes(), 7, opens=False, clicks=True))
    html = tracked.get_body(("html",))
    assert html is not None and html["Content-Transfer-Encoding"] == "base64"
    assert "/t/c/" in html.get_content() and "/t/o/" not in html.get_content()
    (attachment,) = tracked.iter_attachments()
    assert attachment.get_content() == LINK


def test_a_message_without_html_or_without_tracking_is_the_same_bytes():
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "a@example.org", "b@example.net", "x"
    mail.set_content("https://shop.example/a")
    raw = mail.as_bytes()
    assert tracked_mime(raw, 7, opens=True, clicks=True) is raw
    html = EmailMessage()
    html["From"] = "a@example.org"
    html.set_content(LINK, subtype="html")
    assert tracked_mime(html.as_bytes(), 7, opens=False, clicks=False) == html.as_bytes()
