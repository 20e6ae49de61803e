"""The benches' web servers: nginx serving a folder where it is installed, else Python's
threaded server, listening as a real one would."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


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


def nginx_binary() -> str | None:
    """nginx's path (Debian's package puts it in /usr/sbin, often not on a user's PATH)."""
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None


class Nginx:
    """nginx serving `root` on 127.0.0.1: static files with its own ETag and Last-Modified
    (from each file's size and time), answering If-None-Match and If-Modified-Since with 304.
    One worker process, like the one thread of Python's server that runs at a time."""

    def __init__(self, binary: str, root: Path, work: Path) -> None:
        work.mkdir(parents=True, exist_ok=True)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        temp = "".join(
            f"{kind}_temp_path {work / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (work / "nginx.conf").write_text(
            f"""
            daemon off;
            worker_processes 1;
            pid {work / "nginx.pid"};
            error_log {work / "error.log"} warn;
            events {{ worker_connections 1024; }}
            http {{
                access_log off;
                {temp}
                types {{ application/xml xml; }}
                sendfile on;
                keepalive_requests 100000;
                server {{
                    listen 127.0.0.1:{self.port} backlog=511;
                    root {root};
                }}
            }}
            """
        )
        self.proc = subprocess.Popen(
            [binary, "-p", str(work), "-c", str(work / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        self.shutdown()
        raise RuntimeError(f"nginx did not start; see {work / 'error.log'}")

    def shutdown(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
