"""The hosted response page ``/r/<token>/``: the link in every invitation and reminder.

No login: the signed token (``campaigns.tokens``) is the credential. ``GET`` shows a page in the
recipient's language with a button and records nothing (link scanners and mail previews fetch
links, as for the double opt-in confirmation); the button's ``POST`` records the response
(``campaigns.responses.record_response``, source ``link``; once per recipient) and shows a
thank-you page, or redirects to the campaign's ``response_url`` with ``token=`` appended. A
forged, unknown or deleted token is the 404 page.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, path
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from openesp.audience.doubleoptin import mail_language
from openesp.campaigns.models import Recipient
from openesp.campaigns.responses import recipient_for_token, record_response


def with_token(url: str, token: str) -> str:
    """``url`` with ``token=<token>`` added to its query (other parameters and the fragment kept)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "token"]
    query.append(("token", token))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def _private(response: HttpResponse) -> HttpResponse:
    # The token in the URL acts for the recipient: never sent on to other sites, never cached or
    # indexed. (The POST needs no Origin check: it is csrf_exempt, see below.)
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def _language(request: HttpRequest, recipient: Recipient) -> str:
    """The contact's language when it has one we speak; else the browser's."""
    contact = recipient.contact
    if contact is not None and contact.language:
        return mail_language(contact.language)
    return translation.get_language_from_request(request)


# csrf_exempt: the people who press this button have no session with openesp and never will, and
# the token in the URL is itself the credential (unguessable, bound to one recipient): a forged
# cross-site POST must already know the token, and then could only record the response the
# token's owner can record anyway. The double opt-in confirmation (decision 005) does the same.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def respond(request: HttpRequest, token: str) -> HttpResponse:
    recipient = recipient_for_token(token)  # Http404 for forged and unknown tokens
    campaign = recipient.campaign
    with translation.override(_language(request, recipient)):
        context = {
            "recipient": recipient,
            "campaign": campaign,
            "sender": campaign.workspace.organization.name,
            "continues": bool(campaign.response_url),
        }
        if request.method == "POST":
            response, created = record_response(recipient, source="link")
            if campaign.response_url:
                return _private(HttpResponseRedirect(with_token(campaign.response_url, token)))
            context.update(created=created, responded_at=response.created_at)
            return _private(render(request, "front/campaigns/respond_done.html", context))
        return _private(render(request, "front/campaigns/respond.html", context))


urlpatterns: list[URLPattern] = [path("r/<str:token>/", respond, name="respond")]
