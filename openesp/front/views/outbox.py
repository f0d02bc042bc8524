"""The operator's Outbox: platform mail that no provider can carry, with its links.

Only for superusers (the server's operator); anybody else gets the 404 of a page that does not
exist. It shows the mail of every account, which is why it is the operator's alone.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET

from openesp.front.helpers import member_view, the_user
from openesp.messaging.platform import waiting_platform_mail


@require_GET
@member_view
def outbox(request: HttpRequest) -> HttpResponse:
    if not the_user(request).is_superuser:
        raise Http404("page not found")
    response = render(request, "front/outbox.html", {"waiting": waiting_platform_mail(), "section": "outbox"})
    # The links in it are credentials (a verification or invitation token): no cached copies.
    add_never_cache_headers(response)
    return response
