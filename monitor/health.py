"""The daemon's /healthz and /metrics endpoint (Prometheus text format, prometheus_client)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)

from monitor.models import PassReport
from monitor.store import FeedHealth


class Metrics:
    """The daemon's counters and gauges, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter("monitor_polls", "Poll passes run", registry=r)
        self.errors = Counter("monitor_job_errors", "Jobs that raised", ["job"], registry=r)
        self.fetches = Counter(
            "monitor_fetches", "Feed fetches by outcome", ["outcome"], registry=r
        )
        self.internal = Counter(
            "monitor_internal_failures",
            "Feeds failed by a fault of the monitor's own (kind internal), by stage",
            ["stage"],
            registry=r,
        )
        self.items = Counter("monitor_items", "New items stored", registry=r)
        self.matches = Counter("monitor_matches", "New items that matched a rule", registry=r)
        self.digests = Counter(
            "monitor_digests", "Digest deliveries by status", ["status"], registry=r
        )
        self.last_poll = Gauge(
            "monitor_last_poll_timestamp_seconds", "End of the last poll pass", registry=r
        )
        self.streak = Gauge(
            "monitor_feed_error_streak", "Consecutive failures per feed", ["feed"], registry=r
        )

    def record_pass(self, report: PassReport, when: datetime) -> None:
        self.polls.inc()
        ok = report.feeds_polled - len(report.failures) - report.not_modified
        self.fetches.labels("ok").inc(max(ok, 0))
        self.fetches.labels("not_modified").inc(report.not_modified)
        for failure in report.failures:
            self.fetches.labels(failure.kind).inc()
            if failure.kind == "internal":
                self.internal.labels(failure.stage or "unknown").inc()
        self.items.inc(report.new_items)
        self.matches.inc(report.new_matches)
        self.last_poll.set(when.timestamp())

    def record_health(self, health: Sequence[FeedHealth]) -> None:
        for h in health:
            self.streak.labels(h.name).set(h.error_streak)

    def record_delivery(self, status: str) -> None:
        self.digests.labels(status).inc()

    def record_error(self, job: str) -> None:
        self.errors.labels(job).inc()


class HealthServer:
    """A small HTTP server on the configured address, in a thread of its own."""

    def __init__(
        self, address: tuple[str, int], metrics: Metrics, healthy: Callable[[], tuple[bool, str]]
    ) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/healthz":
                    ok, reason = healthy()
                    self._send(
                        200 if ok else 503, f"{reason}\n".encode(), "text/plain; charset=utf-8"
                    )
                elif self.path == "/metrics":
                    self._send(200, generate_latest(metrics.registry), CONTENT_TYPE_LATEST)
                else:
                    self._send(404, b"not found\n", "text/plain")

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(address, Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
