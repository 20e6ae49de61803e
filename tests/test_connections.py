"""Pooled connections through the guarded backend: reused while the server keeps them open,
over plain HTTP and over TLS alike, and replaced when the server has closed them; and a
certificate that is not accepted, named as the fault."""

from __future__ import annotations

import asyncio
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpcore
import pytest
from fetchutil import fetch

from monitor.fetch.safety import GuardedBackend, parse_networks

TLS = Path(__file__).parent / "data" / "tls"  # a self-signed certificate for localhost


class _Counting(ThreadingHTTPServer):
    daemon_threads = True
    connections = 0
    close_after_each = False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        server: Any = self.server
        server.connections += 1

    def do_GET(self) -> None:
        body = b"<rss version='2.0'><channel><title>t</title></channel></rss>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        server: Any = self.server
        # Closed by the server after answering, without saying so in a header: the client
        # only learns it when it looks at the idle connection before the next request.
        self.close_connection = server.close_after_each

    def log_message(self, *args: Any) -> None:
        pass


def _serve(tls: bool, close_after_each: bool = False, cert: str = "localhost") -> _Counting:
    server = _Counting(("127.0.0.1", 0), _Handler)
    server.close_after_each = close_after_each
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(TLS / f"{cert}.pem", TLS / f"{cert}.key")
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


async def _get_twice(url: str) -> list[int]:
    pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl.create_default_context(cafile=str(TLS / "localhost.pem")),
        network_backend=GuardedBackend(parse_networks(["127.0.0.1/32"])),
    )
    statuses = []
    async with pool:
        for _ in range(2):
            response = await pool.request("GET", url)
            statuses.append(response.status)
            await asyncio.sleep(0.05)  # the server's close, if any, reaches the client
    return statuses


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_an_open_connection_is_reused(tls: bool) -> None:
    server = _serve(tls)
    try:
        scheme, host = ("https", "localhost") if tls else ("http", "127.0.0.1")
        url = f"{scheme}://{host}:{server.server_address[1]}/feed"
        assert asyncio.run(_get_twice(url)) == [200, 200]
        assert server.connections == 1  # the idle connection did not look closed
    finally:
        server.shutdown()


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_a_connection_the_server_closed_is_replaced(tls: bool) -> None:
    server = _serve(tls, close_after_each=True)
    try:
        scheme, host = ("https", "localhost") if tls else ("http", "127.0.0.1")
        url = f"{scheme}://{host}:{server.server_address[1]}/feed"
        assert asyncio.run(_get_twice(url)) == [200, 200]  # no error from the dead one
        assert server.connections == 2
    finally:
        server.shutdown()


# issued.pem: a certificate for localhost issued by a test CA that nobody trusts, served
# without its issuer, as a server that leaves out its intermediate certificate does.
@pytest.mark.parametrize(
    ("cert", "reason"),
    [
        ("localhost", "self-signed certificate"),
        (
            "issued",
            "unable to get local issuer certificate "
            "(the server may not be sending its intermediate certificate)",
        ),
    ],
)
def test_an_untrusted_certificate_is_named_as_the_fault(cert: str, reason: str) -> None:
    server = _serve(True, cert=cert)
    try:
        result = fetch(f"https://localhost:{server.server_address[1]}/feed")
    finally:
        server.shutdown()
    assert result.error_kind == "tls"
    assert result.error == f"the server's TLS certificate was not accepted: {reason}"
