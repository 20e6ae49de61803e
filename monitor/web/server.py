"""Serving the desk: the loopback rule and a uvicorn server in a thread of its own.

Without authentication (users or a trusted proxy header, monitor.web.auth) the desk
refuses any address but a loopback one: anyone who can reach the port would read the
whole archive and post feedback.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from typing import TYPE_CHECKING

from monitor.errors import WebError

if TYPE_CHECKING:
    from monitor.settings import WebConfig
    from monitor.store import Store
    from monitor.web.auth import Auth

DEFAULT_LISTEN = "127.0.0.1:8080"


def parse_listen(listen: str, authenticated: bool = False) -> tuple[str, int]:
    """("127.0.0.1", 8080) from "127.0.0.1:8080" or "[::1]:8080"; WebError unless the
    address is a loopback one (127.0.0.0/8, ::1 or the name localhost) or the desk has
    authentication."""
    host, sep, port_text = listen.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise WebError(f"listen address {listen!r}: expected HOST:PORT, like {DEFAULT_LISTEN!r}")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not authenticated and not is_loopback(host):
        raise WebError(
            f"refusing to serve the web view on {host}: without authentication ([web.users] "
            "or [web] proxy_header) it only listens on a loopback address (127.0.0.1, ::1 "
            "or localhost); reach it from elsewhere through an SSH tunnel"
        )
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # another name: what it resolves to may change, so it is refused


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port); bound here, in the caller's thread, so that an
    address in use is a clear error at start rather than a log line from the server."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise WebError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.set_inheritable(True)
    return sock


def serve_config(store: Store, web: WebConfig, listen: str) -> WebServer:
    """The desk as `[web]` configures it, on `listen`."""
    from monitor.web.auth import Auth

    auth = Auth(
        users=dict(web.users),
        proxy_header=web.proxy_header,
        proxy_addresses=web.proxy_addresses,
        public_feeds=web.public_feeds,
    )
    return WebServer(store, listen, web.secret, auth)


class WebServer:
    """The desk served by uvicorn on one bound socket, in a daemon thread."""

    def __init__(
        self, store: Store, listen: str, secret: str | None = None, auth: Auth | None = None
    ) -> None:
        import uvicorn

        from monitor.web.app import make_app

        host, port = parse_listen(listen, authenticated=auth is not None and auth.enabled)
        self.socket = bind(host, port)
        self.host, self.port = host, self.socket.getsockname()[1]
        config = uvicorn.Config(
            make_app(store, secret.encode("utf-8") if secret else None, auth),
            log_level="warning",
            lifespan="off",
            access_log=False,
            server_header=False,
        )
        self.server = uvicorn.Server(config)
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> None:
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, name="web", daemon=True
        )
        self.thread.start()

    def serve(self) -> None:
        """Serve until SIGINT or SIGTERM, then stop cleanly (exit status 0). The server runs
        in its thread and this one waits: uvicorn, in the main thread, re-raises the signal
        after its shutdown, and the process would end killed by it."""
        import signal

        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda _signum, _frame: stop.set())
        self.start()
        wait_started(self)
        while not stop.wait(0.5):
            if self.thread is not None and not self.thread.is_alive():
                raise WebError("the web server stopped")
        self.stop()

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout)
        self.socket.close()

    def started(self) -> bool:
        return bool(getattr(self.server, "started", False))


def wait_started(server: WebServer, timeout: float = 10.0) -> None:
    """Block until the server accepts requests (or raise WebError)."""
    import time

    deadline = time.monotonic() + timeout
    while not server.started():
        if server.thread is not None and not server.thread.is_alive():
            raise WebError("the web server stopped while starting")
        if time.monotonic() > deadline:
            raise WebError("the web server did not start in time")
        time.sleep(0.02)
