"""The HTTP server of ``openesp serve``: granian's WSGI worker on a socket we already listen on.

Why granian, and why its worker rather than its ``Granian`` class: docs/decisions/020. The
``Granian`` class is a process manager of its own — it binds the port itself, forks its workers
and takes the process's signals — while ``serve`` already has one: the socket is bound once
before anything forks, the delivery worker and the import runner run once in the parent, and
SIGTERM and a killed parent stop every web process (``tests/test_cli.py``). So each web
process runs one granian WSGI worker (HTTP in Rust, the application on ``threads`` Python
threads) on the inherited socket, which is what the ``Granian`` class runs in each of its
workers. These are granian's internal names: the version is pinned in pyproject.toml, and
``tests/test_cli.py`` serves real requests through them.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from granian import _futures, _granian
from granian import wsgi as _granian_wsgi
from granian._loops import loops
from granian.http import HTTP1Settings

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# How many requests one process takes in at once (granian's backpressure); beyond that they
# wait in the kernel's accept queue. More than the threads, so a thread never waits for I/O.
BACKPRESSURE = 128
# granian's type stubs describe an older signature than the pinned binary takes (and leave the
# scheduler untyped): its worker is reached untyped, and the arguments are named below.
_native: Any = _granian
_new_cbscheduler: Any = _futures._new_cbscheduler
_wsgi: Any = _granian_wsgi

BACKLOG = 1024  # connections waiting to be accepted, per listening socket
FORWARDED = ("HTTP_X_FORWARDED_", "HTTP_FORWARDED")


def without_proxy_headers(app: WsgiApp) -> WsgiApp:
    """``app`` with X-Forwarded-* and Forwarded dropped from every request.

    Without trusted proxies (OPENESP_TRUSTED_PROXIES) no client may say where it comes from or
    which scheme it used; waitress dropped these headers, granian passes everything on.
    """

    def clean(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        for name in [name for name in environ if name.startswith(FORWARDED)]:
            del environ[name]
        return app(environ, start_response)

    return clean


# What every request's WSGI environ starts from. granian's own wrapper starts from a copy of the
# process environment (as wsgiref does), which would put DATABASE_URL and the provider keys in
# every request's META, where an error report could show them: this one does not.
_BASE_ENVIRON: dict[str, Any] = {
    "GATEWAY_INTERFACE": "CGI/1.1",
    "SCRIPT_NAME": "",
    "SERVER_SOFTWARE": "Granian",
    "wsgi.errors": sys.stderr,
    "wsgi.input_terminated": True,
    "wsgi.multiprocess": False,
    "wsgi.multithread": True,
    "wsgi.run_once": False,
    "wsgi.version": (1, 0),
}


def _granian_callback(app: WsgiApp) -> Callable[[Any, dict[str, Any]], int]:
    """What granian calls per request (``granian.wsgi._callback_wrapper`` of the pinned version,
    less the process environment): runs ``app``, hands granian the status, headers and body."""

    def run(proto: Any, scope: dict[str, Any]) -> int:
        response = _wsgi.Response()
        body = app(_BASE_ENVIRON | scope, response)
        if isinstance(body, list):
            proto.response_bytes(response.status, response.headers, b"".join(body))
        else:
            proto.response_iter(response.status, response.headers, _wsgi.ResponseIterWrap(body))
        return int(response.status)

    return run


class WebServer:
    """One process's HTTP server on ``listener``: ``run()`` serves until ``close()``."""

    def __init__(self, listener: socket.socket, app: WsgiApp, threads: int) -> None:
        self._listener = listener
        self._app = app
        self._threads = max(1, threads)
        self._stopped = threading.Event()
        self._signal = _native.WorkerSignal()
        self._signal.add_cb(self._stopped.set)
        # One token: whoever takes it tells granian to stop (``list.pop`` is atomic under the GIL).
        self._unclosed = [True]

    def run(self) -> None:
        holder = _native.SocketHolder(self._listener.fileno(), False, BACKLOG)
        worker = _native.WSGIWorker(
            1,  # worker id, for granian's logs
            (None, holder),
            None,  # no IPC: granian uses it only for its metrics
            1,  # runtime threads (Rust, the HTTP side): one per process is plenty
            512,  # runtime blocking threads (Rust), granian's default
            self._threads,  # Python threads running the application
            30,  # seconds before an idle Python thread ends
            max(BACKPRESSURE, self._threads),
            "1",  # HTTP/1.1 (no h2c upgrade: a proxy in front speaks HTTP/2 to clients)
            HTTP1Settings(),
            None,
            None,  # static files: whitenoise serves them inside the application
            False,  # no TLS here: a proxy in front terminates it
            None,
            None,
            None,
            "tls1.3",
            None,
            [],
            False,
            (None, None),  # no metrics
        )
        loop = loops.get("asyncio")
        scheduler = _new_cbscheduler(loop, _granian_callback(self._app), impl_asyncio=True)
        worker.serve_str(scheduler, loop, self._signal)  # starts serving on granian's threads
        self._stopped.wait()

    def close(self) -> None:
        """Stop accepting; ``run()`` returns. Safe from a signal handler and from any thread, as
        often as it is called: granian is told once. A web process of ``serve`` can get two
        SIGTERMs (its parent's, then the kernel's for a dead parent); told a second time while
        the first was being passed on, granian never returned from ``set()`` (py-spy: the
        process idle there, in a ``close`` called within ``close``) and the process never ended."""
        try:
            self._unclosed.pop()
        except IndexError:
            return
        self._signal.set()
