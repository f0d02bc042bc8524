"""The public unsubscribe link (``List-Unsubscribe``): no login, no cookie, no CSRF token.

GET shows a confirmation page and changes nothing (link scanners and previews fetch links).
POST unsubscribes: a mailbox provider's RFC 8058 one-click request (body
``List-Unsubscribe=One-Click``, url-encoded or multipart) or the page's button (empty body).
Both answer 200 without a redirect, however often they are repeated.

Both pages link the address's preference page when the workspace has it as a contact: the
unsubscribe token already speaks for the address, and some people would rather choose than
stop everything.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from openesp.audience.unsubscribe import ONE_CLICK, PAGE, InvalidToken, Target, unsubscribe_address, verify_token


def _private(response: HttpResponse) -> HttpResponse:
    response["Referrer-Policy"] = "no-referrer"  # the token names the address
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        target: Target = verify_token(token)
    except InvalidToken:
        if request.method == "POST":
            return _private(HttpResponseBadRequest("invalid unsubscribe link\n", content_type="text/plain"))
        raise Http404("unsubscribe link not found") from None
    if request.method != "POST":
        # No link to the preference page here: this token travels in a header many parties see,
        # and the preference page can subscribe again and lift the suppression.
        return _private(render(request, "front/unsubscribe.html", {"email": target.email}))
    try:
        one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    except MultiPartParserError:
        return _private(HttpResponseBadRequest("malformed body\n", content_type="text/plain"))
    unsubscribe_address(target, source=ONE_CLICK if one_click else PAGE, ip=request.META.get("REMOTE_ADDR"))
    return _private(render(request, "front/unsubscribe_done.html", {"email": target.email}))
