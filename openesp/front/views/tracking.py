"""The public tracking routes: the open pixel and the click redirect (openesp/tracking).

Anyone holding a message's link may call them, so they answer only for tokens we signed: a
forged or altered token is a 404, and the click redirect goes only to the URL inside the
signed token (no open redirect). Neither needs a session, and neither is cached.
"""

from __future__ import annotations

import base64

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from openesp.lib.clientaddr import client_address
from openesp.messaging.models import EventType
from openesp.tracking.links import TRAP, read_click, read_open
from openesp.tracking.record import record

# A transparent 1×1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _agent(request: HttpRequest) -> str:
    return request.headers.get("User-Agent", "")


@never_cache
@require_GET
def tracked_open(request: HttpRequest, token: str) -> HttpResponse:
    message_id = read_open(token)
    if message_id is None or not record(
        message_id, EventType.OPENED, user_agent=_agent(request), ip=client_address(request)
    ):
        raise Http404("not a tracking link")
    return HttpResponse(PIXEL, content_type="image/gif")


@never_cache
@require_GET
def tracked_click(request: HttpRequest, token: str) -> HttpResponse:
    click = read_click(token)
    if click is None:
        raise Http404("not a tracking link")
    trap = click.index == TRAP
    if not record(
        click.message_id, EventType.CLICKED, user_agent=_agent(request), ip=client_address(request),
        url=click.url, trap=trap,
    ):  # fmt: skip
        raise Http404("not a tracking link")
    if trap or not click.url.lower().startswith(("http://", "https://")):
        return HttpResponse(status=204)
    return HttpResponseRedirect(click.url)
