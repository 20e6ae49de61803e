"""Scaling out: feeds per minute with 1, 2 and 3 daemons sharing one PostgreSQL database.

300 feeds spread over ten loopback hosts (127.0.0.1 … 127.0.0.10), each answer delayed by
50 ms, served by Python's threaded HTTP server. For each daemon count, a fresh schema, then
the time until every feed has been fetched and stored once. Printed, never asserted.

Uses $MONITOR_TEST_POSTGRES_URL (default: the local PostgreSQL's `test` database).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from httpd import serve

ROOT = Path(__file__).resolve().parents[1]
FEEDS, HOSTS, LATENCY = 300, 10, 0.05
BASE = os.environ.get(
    "MONITOR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        time.sleep(LATENCY)
        n = self.path.strip("/").split(".")[0]
        items = "".join(
            f"<item><guid>{n}-{j}</guid><title>TTP attack {n}-{j} near Chaman</title>"
            f"<link>https://news.example.org/{n}/{j}</link><description>Border report.</description></item>"
            for j in range(10)
        )
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>F{n}</title>{items}</channel></rss>'.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def run(daemons: int, ports: list[int], work: Path) -> float:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(BASE)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = f"{BASE}{'&' if '?' in BASE else '?'}options=-csearch_path%3D{schema}"
    lines = [
        f'rules = "{ROOT / "config" / "rules.toml"}"',
        "[database]",
        f'url = "{url}"',
        "[fetch]",
        'allow_networks = ["127.0.0.0/8"]',
        "per_host = 4",
        "per_host_spacing_seconds = 0",
        "interval_minutes = 60",
        "[delivery]",
        f'outbox = "{work / "outbox"}"',
        "[daemon]",
        "poll_seconds = 1",
        "lease_seconds = 120",
    ]
    for i in range(FEEDS):
        host = i % HOSTS
        lines += [
            "[[feeds]]",
            f'name = "F{i}"',
            f'url = "http://127.0.0.{host + 1}:{ports[host]}/{i}.xml"',
        ]
    config = work / f"monitor-{daemons}.toml"
    config.write_text("\n".join(lines) + "\n")
    env = {**os.environ, "MONITOR_CONFIG": str(config)}
    subprocess.run(
        [sys.executable, "-m", "monitor", "db", "upgrade"], env=env, check=True, capture_output=True
    )
    engine = sa.create_engine(url)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--log-level", "warning"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(daemons)
    ]
    started = time.monotonic()
    try:
        while True:
            with engine.connect() as conn:
                done = conn.execute(
                    sa.text("SELECT count(*) FROM feed WHERE last_checked IS NOT NULL")
                ).scalar_one()
            if done >= FEEDS or time.monotonic() - started > 600:
                break
            time.sleep(0.2)
        return time.monotonic() - started
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(20)
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def main() -> None:
    servers = []
    for h in range(HOSTS):
        servers.append(serve(Handler, f"127.0.0.{h + 1}"))
    ports = [s.server_address[1] for s in servers]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (1, 2, 3):
            seconds = run(n, ports, Path(tmp))
            results[n] = seconds
            print(
                f"{n} daemon(s): {FEEDS} feeds in {seconds:6.1f} s = {FEEDS / seconds * 60:7.0f} feeds/min "
                f"(x{results[1] / seconds:.2f} of one daemon)",
                flush=True,
            )
    for s in servers:
        s.shutdown()
    print(
        "(includes each daemon's start-up, about 2 s; 2 cores shared by the daemons, PostgreSQL "
        "and the feed server)"
    )


if __name__ == "__main__":
    main()
