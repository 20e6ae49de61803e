"""Real servers on 127.0.0.1 for tests: a scripted HTTP feed server and an SMTP server."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server(ThreadingHTTPServer):
    # A listen backlog of 5 (socketserver's default) drops the SYNs of a pass that opens
    # more connections at once, and the kernel retries them only a second later.
    request_queue_size = 128
    daemon_threads = True


@dataclass
class Response:
    """One scripted HTTP response."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    # A streamed body, produced while it is sent (no Content-Length unless given in headers);
    # `drip` waits between chunks. The connection closes afterwards.
    stream: Callable[[], Iterable[bytes]] | None = None
    drip: float = 0.0
    reason: str | None = None  # the status line's reason phrase; None: the standard one


@dataclass
class Request:
    path: str
    headers: dict[str, str]


class FeedServer:
    """Serves scripted responses per path; a list of responses is played in order, the last
    one repeating. Records every request it receives."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.routes: dict[str, list[Response] | Callable[[Request], Response]] = {}
        self.requests: list[Request] = []
        self.hits: dict[str, int] = defaultdict(int)
        self.aborted: dict[str, bool] = defaultdict(bool)  # the client hung up mid-stream
        self.sent: dict[str, int] = defaultdict(int)  # bytes of streamed bodies written
        self.connections = 0  # TCP connections accepted
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with server.lock:
                    server.connections += 1

            def do_GET(self) -> None:
                req = Request(self.path, {k.lower(): v for k, v in self.headers.items()})
                with server.lock:
                    server.requests.append(req)
                    n = server.hits[self.path]
                    server.hits[self.path] += 1
                    route = server.routes.get(self.path)
                if route is None:
                    resp = Response(404, b"not found")
                elif callable(route):
                    resp = route(req)
                else:
                    resp = route[min(n, len(route) - 1)]
                if resp.delay:
                    time.sleep(resp.delay)
                if resp.stream is not None:
                    self.stream(resp)
                    return
                self.send_response(resp.status, resp.reason)
                headers = {"Content-Length": str(len(resp.body)), **resp.headers}
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if resp.status != 304:
                    self.wfile.write(resp.body)

            def stream(self, resp: Response) -> None:
                self.close_connection = True
                self.send_response(resp.status)
                for k, v in {"Connection": "close", **resp.headers}.items():
                    self.send_header(k, v)
                self.end_headers()
                assert resp.stream is not None
                try:
                    for chunk in resp.stream():
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        with server.lock:
                            server.sent[self.path] += len(chunk)
                        if resp.drip:
                            time.sleep(resp.drip)
                except OSError:  # BrokenPipe, ConnectionReset: the client gave up
                    with server.lock:
                        server.aborted[self.path] = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = _Server((host, 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def route(self, path: str, *responses: Response | Callable[[Request], Response]) -> str:
        if (
            len(responses) == 1
            and callable(responses[0])
            and not isinstance(responses[0], Response)
        ):
            self.routes[path] = responses[0]
        else:
            self.routes[path] = [r for r in responses if isinstance(r, Response)]
        return self.url(path)

    def feed(
        self, path: str, body: bytes, content_type: str = "application/rss+xml", **headers: str
    ) -> str:
        return self.route(path, Response(200, body, {"Content-Type": content_type, **headers}))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class SmtpSink:
    """An aiosmtpd server on 127.0.0.1 that records messages and can be scripted.

    - `data_replies`: replies to the final "." for the next messages (e.g. '451 try later');
    - `refuse`: recipient -> reply to RCPT TO (e.g. '550 no such user');
    - `drop_after_data`: for the next N messages, keep the message (it arrived) but close the
      connection instead of replying 250, so the client cannot know it was delivered;
    - `size_limit`: advertised as SIZE in the EHLO reply and enforced (552 above it);
    - `port`: listen on this port (to bring a server up where one was down);
    - `on_data`: called with each message's recipients at the final "."; a reply it returns
      (e.g. '451 try later') refuses that message, None accepts it;
    - `data_delay`: seconds the server takes before answering the final "." (a slow relay).
    """

    def __init__(self, port: int | None = None, size_limit: int | None = None) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.raw: list[bytes] = []
        self.data_replies: list[str] = []
        self.refuse: dict[str, str] = {}  # recipient -> reply for RCPT TO
        self.drop_after_data = 0
        self.on_data: Callable[[list[str]], str | None] | None = None
        self.data_delay = 0.0
        sink = self

        class Handler:
            async def handle_RCPT(
                self, server: Any, session: Any, envelope: Any, address: str, options: Any
            ) -> str:
                if address in sink.refuse:
                    return sink.refuse[address]
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                if sink.data_delay:
                    await asyncio.sleep(sink.data_delay)
                if sink.data_replies:
                    return sink.data_replies.pop(0)
                refusal = sink.on_data(list(envelope.rcpt_tos)) if sink.on_data else None
                if refusal is not None:
                    return refusal
                msg = message_from_bytes(envelope.original_content, policy=policy.default)
                sink.messages.append((list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
                sink.raw.append(envelope.original_content)
                if sink.drop_after_data > 0:
                    sink.drop_after_data -= 1
                    server.transport.abort()  # the message is here; the 250 never leaves
                return "250 Message accepted"

        self.port = port or free_port()
        kwargs: dict[str, Any] = {}
        if size_limit is not None:
            kwargs["data_size_limit"] = size_limit
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **kwargs)
        self.controller.start()

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for _, m in self.messages]

    def close(self) -> None:
        self.controller.stop()


class HangServer:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


class BlackholePort:
    """A port (on 127.0.0.1 unless told) whose listen queue is full, so new connections are
    never accepted: the client's SYNs are dropped, as on a route that loses packets."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = socket.socket()
        self.sock.bind((host, port))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fillers = []
        for _ in range(3):  # fill the accept queue; later SYNs are dropped
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex((host, self.port))
            self.fillers.append(filler)
        time.sleep(0.2)

    def close(self) -> None:
        for filler in self.fillers:
            filler.close()
        self.sock.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
