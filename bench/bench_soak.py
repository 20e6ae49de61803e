"""Soak: the daemon's resident memory over 800 poll ticks against 200 feeds on 127.0.0.1.

The daemon runs as a subprocess with a fast tick (0.2 s) and feeds due every 6 s; the
server answers with ETag/304, and one feed in ten publishes a new version every 4,000
requests (once in a run), so passes mix unchanged bodies and 304s with some new items. Printed, never asserted; the goal is no growth after
warm-up beyond 10%.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from httpd import serve
from proctree import tree_memory_mib

ROOT = Path(__file__).resolve().parents[1]
FEEDS = 200
TICKS = 800
counter = {"n": 0}


def body(feed: int, version: int) -> bytes:
    items = "".join(
        f"<item><guid>f{feed}-v{version}-{j}</guid><title>TTP attack {feed}-{version}-{j} near Chaman</title>"
        f"<link>https://news.example.org/{feed}/{version}/{j}</link><description>Border clash report "
        f"{'lorem ipsum ' * 20}</description></item>"
        for j in range(20)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>F{feed}</title>{items}</channel></rss>'.encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        feed = int(self.path.strip("/").split(".")[0])
        counter["n"] += 1
        # One feed in ten publishes a new version every 4,000 requests served; the rest never change.
        version = (counter["n"] // 4000) if feed % 10 == 0 else 0
        etag = f'"{feed}-{version}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = body(feed, version)
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def rss_kib(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(match.group(1)) if match else 0


def polls(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
            match = re.search(r"^monitor_polls_total ([\d.]+)", resp.read().decode(), re.M)
            return int(float(match.group(1))) if match else 0
    except OSError:
        return 0


def main() -> None:
    server = serve(Handler)
    port = server.server_address[1]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            http_port = s.getsockname()[1]
        lines = [
            f'rules = "{ROOT / "config" / "rules.toml"}"',
            "[database]",
            f'url = "sqlite:///{work / "soak.db"}"',
            "[fetch]",
            'allow_networks = ["127.0.0.1/32"]',
            "interval_minutes = 0.1",
            "per_host = 8",
            "per_host_spacing_seconds = 0",  # every feed is on 127.0.0.1
            "[delivery]",
            f'outbox = "{work / "outbox"}"',
            "[daemon]",
            "poll_seconds = 0.2",
            f'http = "127.0.0.1:{http_port}"',
        ]
        for i in range(FEEDS):
            lines += ["[[feeds]]", f'name = "F{i}"', f'url = "http://127.0.0.1:{port}/{i}.xml"']
        config = work / "monitor.toml"
        config.write_text("\n".join(lines) + "\n")
        env = {**os.environ, "MONITOR_CONFIG": str(config)}
        monitor = [sys.executable, "-m", "monitor"]
        subprocess.run([*monitor, "db", "upgrade"], env=env, check=True, capture_output=True)
        daemon = subprocess.Popen(
            [*monitor, "run", "--log-level", "warning"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        samples: list[tuple[int, int, float]] = []
        started = time.monotonic()
        try:
            next_mark = 50
            while True:
                n = polls(http_port)
                if n >= next_mark:
                    samples.append((n, rss_kib(daemon.pid), time.monotonic() - started))
                    # Its child processes (parse workers during a pass), for the record.
                    children = tree_memory_mib(daemon.pid)[0]
                    print(
                        f"tick {n:4d}: RSS {samples[-1][1] / 1024:6.1f} MiB after {samples[-1][2]:6.1f} s"
                        f" (+ {children:5.1f} MiB in child processes)",
                        flush=True,
                    )
                    next_mark += 50
                if n >= TICKS or time.monotonic() - started > 900:
                    break
                time.sleep(0.05)
        finally:
            daemon.terminate()
            daemon.wait(20)
            server.shutdown()
    if len(samples) >= 3:
        print(f"\nfeed requests served: {counter['n']}")
        # Warm-up: after 100 ticks, imports, caches and pools are in place; after the first
        # minute, every periodic job (delivery retries) has also run once and imported what
        # it needs. Growth after that is what a leak would show.
        after_minute = next((i for i, s in enumerate(samples) if s[2] >= 65), None)
        for label, start in (("100 ticks", 1), ("the first minute", after_minute)):
            if start is None or start >= len(samples) - 1:
                continue
            warm = samples[start][1]
            peak_after = max(s[1] for s in samples[start:])
            print(
                f"after {label}: RSS {warm / 1024:.1f} MiB, peak after {peak_after / 1024:.1f} MiB, "
                f"final {samples[-1][1] / 1024:.1f} MiB; growth {100 * (peak_after / warm - 1):+.1f}% "
                "(goal: at most +10%)"
            )


if __name__ == "__main__":
    main()
