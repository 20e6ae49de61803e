"""The benches' web server: Python's threaded server, listening as a real one would."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Server(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: eight clients connecting at once overflow
    # it, and the kernel drops their SYNs, which are retried a second later. That stall is
    # the server's, not the client's (nginx listens with 511).
    request_queue_size = 511
    daemon_threads = True


def serve(handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1") -> Server:
    """A server on a free port of `host`, answering from a daemon thread."""
    server = Server((host, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
