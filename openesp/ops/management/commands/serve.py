"""``openesp serve``: everything one machine needs in one process.

It lives in the ops app (a face, on top of every layer) because it starts the delivery worker
and the import runner; an app lower down may not import them.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connections
from django.urls import get_resolver

from openesp.lib.children import die_with_parent
from openesp.lib.heap import settle

log = logging.getLogger("openesp.serve")

# The all-in-one process runs every component a single machine needs. Each entry is a
# function that runs until the stop event is set; the web server runs in the main thread.
Component = Callable[[threading.Event], None]


def _delivery_worker(stop: threading.Event) -> None:
    from openesp.delivery.worker import Worker

    Worker().run(stop)


def _import_runner(stop: threading.Event) -> None:
    from openesp.audience.imports import run_forever

    run_forever(stop)


def _smtp_server(stop: threading.Event) -> None:
    from openesp.smtpd.server import run

    try:
        run(stop, print)
    except OSError as exc:  # a port taken: the web and the worker go on; the line says why
        print(f"openesp: SMTP submission did not start: {exc} (OPENESP_SMTP_PORT / OPENESP_SMTPS_PORT; 0 turns off)")


def _inbound_mx(stop: threading.Event) -> None:
    from openesp.events.mx import start_mx

    controller = start_mx(settings.OPENESP_MX_HOST, settings.OPENESP_MX_PORT)
    stop.wait()
    controller.stop()


def _wal_checkpoints(stop: threading.Event) -> None:
    from openesp.lib.walcheckpoint import run_forever

    run_forever(stop)


COMPONENTS: dict[str, Component] = {"worker": _delivery_worker, "imports": _import_runner, "smtp": _smtp_server}
# SQLite's log copied into the database off the committers' path (openesp.lib.walcheckpoint).
if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    COMPONENTS["checkpoints"] = _wal_checkpoints
# The inbound MX for bounce mail (docs/events.md) runs only where bounce addresses exist.
if settings.OPENESP_BOUNCE_DOMAIN and settings.OPENESP_MX_PORT:
    COMPONENTS["mx"] = _inbound_mx
# What ``--no-worker`` leaves out: the background work a split deployment runs elsewhere
# (``openesp worker``, ``openesp import --runner``), so this process only serves web + API.
BACKGROUND = frozenset({"worker", "imports"})


def served_base_url(host: str, port: int) -> str:
    """The base URL of links in mail when ``OPENESP_BASE_URL`` is not set: the address served.

    A wildcard address (``0.0.0.0``, ``::``) names no host a recipient could reach; links then
    use the loopback address, and the start-up line says to set ``OPENESP_BASE_URL``.
    """
    if host in {"0.0.0.0", "::", ""}:  # noqa: S104 (recognising the wildcard, not binding to it)
        host = "127.0.0.1"
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _no_provider_hint() -> str:
    """On an install without a standard provider, where the mail that cannot go out is read."""
    from openesp.esp.operator import operator_default

    if operator_default().kind != "none":
        return ""
    return (
        "\nopenesp: no standard email provider is configured, so mail waits in the queue until one is "
        "(OPENESP_SENDGRID_API_KEY, OPENESP_MAILJET_API_KEY or OPENESP_DEFAULT_PROVIDER=smtp://…; or users set up "
        f"their own SMTP server). Sign-up links and invitations meanwhile: the Outbox at {settings.OPENESP_BASE_URL}"
        "/outbox/, for a superuser (openesp createuser EMAIL --password-file F --superuser)"
    )


class Command(BaseCommand):
    help = "Run openesp on one machine: migrate, then web + API (and every registered component)."

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8, help="request threads per web process")
        parser.add_argument(
            "--processes",
            type=int,
            default=None,
            help="web processes sharing the port, each on a listening socket of its own (default: one per CPU); "
            "see docs/decisions/015 and 025",
        )
        parser.add_argument("--no-migrate", action="store_true", help="do not apply migrations first")
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="web + API only: no delivery worker and no import runner in this process",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.OPENESP_BASE_URL_FROM_ENV:
            # Read at the moment a link is made (accounts, audience, campaigns), also by the
            # worker thread of this process: set before anything runs.
            settings.OPENESP_BASE_URL = served_base_url(options["host"], options["port"])
        if not options["no_migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        listener, *others = _listen(options["host"], options["port"], _web_processes(options["processes"]))
        # What every request needs, made once here for the web processes forked below to share
        # (the application with its middleware, the URL configuration with the API's routers and
        # schemas), then put out of the garbage collector's way (openesp.lib.heap).
        import openesp.wsgi  # noqa: F401 - made for its effect

        get_resolver().url_patterns  # noqa: B018 - read for its effect: it imports the URL configuration
        settle()
        # Fork the extra web processes before any thread starts (a fork copies only the calling
        # thread) and without an open database connection (each process opens its own).
        connections.close_all()
        children = [_fork_web(own, [listener, *others], options["threads"]) for own in others]
        stop = threading.Event()
        chosen = {name: run for name, run in COMPONENTS.items() if not (options["no_worker"] and name in BACKGROUND)}
        threads = [threading.Thread(target=run, args=(stop,), name=name, daemon=True) for name, run in chosen.items()]
        for thread in threads:
            thread.start()
        server = _web_server(listener, options["threads"])

        def shut_down(signum: int, _frame: FrameType | None) -> None:
            log.info("signal %s: stopping", signum)
            stop.set()
            server.close()
            for pid in children:
                _signal_child(pid, signal.SIGTERM)

        signal.signal(signal.SIGTERM, shut_down)
        signal.signal(signal.SIGINT, shut_down)
        database = settings.DATABASES["default"]
        self.stdout.write(
            f"openesp: web on http://{options['host']}:{options['port']}/ ({1 + len(children)} processes) "
            f"(database: {database['ENGINE'].rsplit('.', 1)[-1]}; data: {settings.DATA_DIR}); "
            f"components: {', '.join(['web', *chosen])}\n"
            f"openesp: links in mail start with {settings.OPENESP_BASE_URL}"
            + ("" if settings.OPENESP_BASE_URL_FROM_ENV else " (set OPENESP_BASE_URL to the address users reach)")
            + _no_provider_hint()
        )
        self.stdout.flush()
        try:
            server.run()
        except OSError:
            if not stop.is_set():
                raise
        finally:
            stop.set()
            for pid in children:
                _signal_child(pid, signal.SIGTERM)
            for thread in threads:
                thread.join(timeout=30)
            for pid in children:
                _reap(pid)


def _web_processes(asked: int | None) -> int:
    """How many web processes: as asked, else one per CPU — on SQLite too, now that their
    commits take turns through a lock file (decision 020) and each has a listening socket of its
    own (decision 025): two processes answered 383 single sends a second on 2 cores where one
    answered 277, with a lower p99 (docs/benchmarks.md)."""
    if asked is not None:
        return max(1, asked)
    return os.cpu_count() or 1


def _listen(host: str, port: int, processes: int) -> list[socket.socket]:
    """One listening socket per web process, all on the port (``SO_REUSEPORT``): the kernel
    gives each new connection to one of them by the hash of its addresses. With one socket
    shared by every process, whichever process was idle first accepted — a keep-alive client's
    connections all went to the same one, and a second process added nothing (measured:
    one process at 97 % of a core, the other idle; docs/decisions/025)."""
    from openesp.ops.webserver import BACKLOG

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if processes == 1:
        return [socket.create_server((host, port), family=family, backlog=BACKLOG)]
    # SO_REUSEPORT would also let this bind share a port another server of the same user holds
    # with it: a plain bind first says whether the port is free, as a single socket does.
    socket.create_server((host, port), family=family).close()
    return [
        socket.create_server((host, port), family=family, backlog=BACKLOG, reuse_port=True) for _ in range(processes)
    ]


def _web_server(listener: socket.socket, threads: int) -> Any:
    from openesp.ops.webserver import WebServer, without_proxy_headers
    from openesp.wsgi import application

    # Behind the proxies named in OPENESP_TRUSTED_PROXIES openesp reads X-Forwarded-For itself
    # (lib.clientaddr, which believes it only from those proxies); without any, the headers are
    # dropped before the application sees them, as waitress used to.
    app = application if settings.OPENESP_TRUSTED_PROXIES else without_proxy_headers(application)
    return WebServer(listener, app, threads)


def _fork_web(listener: socket.socket, every: list[socket.socket], threads: int) -> int:
    """A child process serving web + API on ``listener`` until SIGTERM or its parent is gone.

    Each socket of ``every`` stays open in exactly one process: a copy left open where nobody
    accepts on it would keep the connections the kernel hands it waiting."""
    parent = os.getpid()
    pid = os.fork()
    if pid:
        listener.close()  # the child's now
        return pid
    status = 0
    try:
        # A parent killed with SIGKILL cannot stop its children: they end with it. Armed first
        # (SIGTERM keeps its default action until the server is made): a parent killed while the
        # child was still making the application left it watching its reaper, serving on.
        die_with_parent(parent)
        for other in every:
            if other is not listener:
                other.close()
        server = _web_server(listener, threads)

        def close(_signum: int = 0, _frame: FrameType | None = None) -> None:
            server.close()

        signal.signal(signal.SIGTERM, close)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles ^C for the group
        with contextlib.suppress(OSError):
            server.run()
    except BaseException:
        log.exception("web process failed")
        status = 1
    finally:
        os._exit(status)  # never return into the parent's code


def _signal_child(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _reap(pid: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, _status = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        time.sleep(0.1)
    _signal_child(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
