"""`monitor run`: the long-running daemon.

Owns the APScheduler jobs (poll tick, per-recipient digests, delivery retries, cleanup), the
single-daemon lock of a SQLite database, signals (TERM/INT stop, HUP reloads the
configuration), the heartbeat row and the optional /healthz and /metrics endpoint. Each job
calls the same functions as the CLI commands do; the schedule of feeds lives in the database,
so a restart loses nothing and `monitor check` beside the daemon agrees with it.
"""

from __future__ import annotations

import contextlib
import faulthandler
import fcntl
import logging
import os
import signal
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from monitor.errors import MonitorError
from monitor.health import HealthServer, Metrics
from monitor.notify import notify, watchdog_seconds
from monitor.settings import Recipient, Settings, load_settings
from monitor.store import DaemonInfo, Store

if TYPE_CHECKING:
    from collections.abc import Callable

    from monitor.deliver import SendReport
    from monitor.web.server import WebServer

log = logging.getLogger("monitor.daemon")
STOP_GRACE_SECONDS = 8.0  # SIGTERM to exit, well inside systemd's default 90 s and our 10 s goal


class DaemonError(MonitorError):
    """The daemon cannot start (another one runs on this database, ...)."""


class SingleDaemonLock:
    """An exclusive lock beside a SQLite database file: one daemon per file.

    flock is released by the kernel when the process dies, even by SIGKILL, so a crash never
    leaves a stale lock behind.
    """

    def __init__(self, settings: Settings) -> None:
        url = make_url(settings.database_url)
        self.path: Path | None = None
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            db = Path(str(url.database)).resolve()
            base = Path(settings.daemon.lock_dir) if settings.daemon.lock_dir else db.parent
            self.path = base / f"{db.name}.daemon.lock"
        self.handle: IO[str] | None = None

    def acquire(self) -> None:
        if self.path is None:
            return  # PostgreSQL: several daemons share the work
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise DaemonError(
                f"another `monitor run` (pid {holder}) is already using this SQLite database; "
                "one daemon per SQLite database (use PostgreSQL to run several)"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self.handle = handle

    def held_by_other(self) -> bool:
        """True when a daemon holds the lock (for `monitor status`)."""
        if self.path is None or not self.path.exists():
            return False
        with self.path.open("a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False

    def release(self) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


class Daemon:
    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path
        self.settings = load_settings(config_path)
        self.lock = SingleDaemonLock(self.settings)
        self.stop = threading.Event()
        self.reload_requested = threading.Event()
        self.metrics = Metrics()
        self.started = datetime.now(UTC)
        self.id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.last_tick: datetime | None = None
        self.failing: dict[str, str] = {}  # job -> its last error, until it next succeeds
        self.caught_up = False
        self._store: Store | None = None
        self.matcher: Any = None
        self.scheduler: Any = None
        self.http: HealthServer | None = None
        self.web: WebServer | None = None  # the desk, when [web] listen is set

    @property
    def store(self) -> Store:
        """The open database (set once `run` has opened it)."""
        if self._store is None:
            raise RuntimeError("the daemon's store is not open")
        return self._store

    # -- life cycle ----------------------------------------------------------------------

    def run(self) -> int:
        from monitor.match import Matcher

        self._install_signals()  # first: a SIGTERM during start-up still stops cleanly
        self.lock.acquire()
        try:
            self._store = Store(self.settings.database_url)  # refuses a database that is behind
            self.store.sync_feeds(self.settings.feeds)
            self.matcher = Matcher.from_file(self.settings.rules_path)
            # A heartbeat before the first pass ends, so `monitor status` sees a daemon
            # that is starting, not none.
            self.store.beat(self._info())
            self._start_http()
            self._start_web()
            self._start_scheduler()
            notify("READY=1")  # the first poll is scheduled (it runs at once)
            log.info("daemon started", extra={"count": len(self.settings.feeds)})
            watchdog, next_ping = watchdog_seconds(), 0.0
            while not self.stop.wait(0.25):
                if self.reload_requested.is_set():
                    self.reload_requested.clear()
                    self.reload()
                if watchdog is not None and time.monotonic() >= next_ping and self._alive():
                    notify("WATCHDOG=1")
                    next_ping = time.monotonic() + watchdog
            notify("STOPPING=1")
            log.info("stopping: finishing work in flight")
            self._shutdown()
            log.info("daemon stopped")
            return 0
        finally:
            if self._store is not None:
                self._store.close()
            self.lock.release()

    def _install_signals(self) -> None:
        def stop(signum: int, _frame: FrameType | None) -> None:
            log.info("signal received, stopping", extra={"error": signal.Signals(signum).name})
            self.stop.set()

        def hup(_signum: int, _frame: FrameType | None) -> None:
            self.reload_requested.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, hup)

    def _start_http(self) -> None:
        address = self.settings.daemon.http_address
        if address is None:
            return
        self.http = HealthServer(address, self.metrics, self.healthy)
        self.http.start()
        log.info(
            "health endpoint listening",
            extra={"url": f"http://{self.settings.daemon.http}/healthz"},
        )

    def _start_web(self) -> None:
        if self.settings.web.listen is None:
            return
        from monitor.web.server import serve_config

        self.web = serve_config(self.store, self.settings.web, self.settings.web.listen)
        self.web.start()
        log.info("web view listening", extra={"url": self.web.url})

    def _start_scheduler(self) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.interval import IntervalTrigger

        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(3)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )
        now = datetime.now(UTC)
        poll = self.settings.daemon.poll_seconds
        # Polls at once on start, then every tick; a tick that overruns is skipped, not queued.
        self.scheduler.add_job(
            self.poll_tick,
            IntervalTrigger(seconds=poll),
            id="poll",
            next_run_time=now,
            misfire_grace_time=max(1, int(poll)),
        )
        self.scheduler.add_job(
            self.retry, IntervalTrigger(minutes=1), id="retry", misfire_grace_time=60
        )
        self.scheduler.add_job(
            self.cleanup,
            IntervalTrigger(hours=24),
            id="cleanup",
            next_run_time=now + timedelta(minutes=5),
            misfire_grace_time=3600,
        )
        self._schedule_digests(catch_up=True)
        self.scheduler.start()

    def _schedule_digests(self, *, catch_up: bool) -> None:
        from apscheduler.triggers.cron import CronTrigger

        for job in self.scheduler.get_jobs():
            if job.id.startswith("digest:"):
                job.remove()
        for r in self.settings.digest.recipients:
            send_at, tz = self._send_time(r)
            hour, minute = send_at.split(":")
            self.scheduler.add_job(
                self.digest_job,
                CronTrigger(hour=int(hour), minute=int(minute), timezone=tz),
                args=[r.address],
                id=f"digest:{r.address}",
                misfire_grace_time=6 * 3600,
            )
        # After downtime, the first poll pass is followed by one catch-up digest for each
        # recipient whose send time passed meanwhile (see poll_tick).
        self.caught_up = not catch_up

    def _shutdown(self) -> None:
        if self.scheduler is not None:
            # Jobs see self.stop and return quickly; a poll abandons fetches in flight.
            done = threading.Event()

            def wait() -> None:
                self.scheduler.shutdown(wait=True)
                done.set()

            threading.Thread(target=wait, daemon=True).start()
            if not done.wait(STOP_GRACE_SECONDS):
                log.warning("work in flight did not finish in time; exiting anyway")
                faulthandler.dump_traceback(all_threads=True)  # what was stuck, for the log
        if self.http is not None:
            self.http.stop()
        if self.web is not None:
            self.web.stop()
        if self._store is not None:
            with contextlib.suppress(Exception):
                self._store.beat(self._info(stopped=datetime.now(UTC)))

    def reload(self) -> None:
        """SIGHUP: re-read the configuration (feeds, rules, recipients) without a restart."""
        from monitor.match import Matcher

        try:
            settings = load_settings(self.config_path)
            matcher = Matcher.from_file(settings.rules_path)
        except MonitorError as exc:
            log.error("reload failed; keeping the running configuration", extra={"error": str(exc)})
            return
        if settings.database_url != self.settings.database_url:
            log.warning("database.url changed: restart the daemon to use the new database")
            settings = _with_database(settings, self.settings.database_url)
        self.store.sync_feeds(settings.feeds)
        self.settings, self.matcher = settings, matcher
        self._schedule_digests(catch_up=False)
        log.info("configuration reloaded", extra={"count": len(settings.feeds)})

    # -- jobs ----------------------------------------------------------------------------

    def poll_tick(self) -> None:
        from monitor.deliver import send_alerts
        from monitor.pipeline import poll

        if self.stop.is_set():
            return
        try:
            # The daemon logs counts only: its report lists no items.
            report = poll(self.settings, self.store, self.matcher, stop=self.stop, listed=0)
        except Exception as exc:
            log.exception("poll pass failed")
            self.metrics.record_error("poll")
            self.failing["poll"] = str(exc) or type(exc).__name__
            return
        self.failing.pop("poll", None)
        self.last_tick = datetime.now(UTC)
        self.metrics.record_pass(report, self.last_tick)
        for failure in report.failures:
            log.warning(
                "feed failed",
                extra={"feed": failure.name, "url": failure.url, "error": failure.error},
            )
        if report.feeds_polled:
            log.info(
                f"poll pass: {report.feeds_polled} feeds, {report.new_items} new items, "
                f"{report.new_matches} new matches, {len(report.failures)} failures"
            )
        with contextlib.suppress(Exception):
            self.store.beat(self._info())
            self.metrics.record_health(self.store.feed_health())
        self._deliver("alert", lambda now: send_alerts(self.settings, self.store, now))
        if not self.caught_up:
            self.caught_up = True
            self.catch_up()

    def digest_job(self, address: str) -> None:
        """Send `address` its digest if one is due: decided from the ledger, so repeats are safe."""
        from monitor.deliver import send_digests

        recipient = next((r for r in self.settings.digest.recipients if r.address == address), None)
        if recipient is None:
            return
        self._deliver(
            "digest",
            lambda now: send_digests(
                self.settings, self.store, now, recipients=[recipient], due_only=True
            ),
        )

    def catch_up(self) -> None:
        for r in self.settings.digest.recipients:
            self.digest_job(r.address)

    def retry(self) -> None:
        """Pending copies (4xx, lost connection) whose backoff has passed."""
        from monitor.deliver import retry_pending

        self._deliver("retry", lambda now: retry_pending(self.settings, self.store, now))

    def _deliver(self, what: str, send: Callable[[datetime], list[SendReport]]) -> None:
        if self.stop.is_set():
            return
        try:
            reports = send(datetime.now(UTC))
        except Exception as exc:
            log.exception(f"{what} delivery failed")
            self.metrics.record_error(what)
            self.failing[what] = str(exc) or type(exc).__name__
            return
        self.failing.pop(what, None)
        for rep in reports:
            if rep.status == "empty":
                continue
            self.metrics.record_delivery(rep.status)
            log.info(
                f"{what} {rep.status}",
                extra={
                    "recipient": rep.recipient,
                    "count": rep.stories,
                    "digest": rep.digest_id,
                    "error": rep.error or "",
                },
            )

    def cleanup(self) -> None:
        """Daily housekeeping: prune old items (tombstones stay), then compact the database."""
        now = datetime.now(UTC)
        try:
            pruned = self.store.prune(
                now - timedelta(days=self.settings.daemon.retention_days), now
            )
            log.info("old items pruned", extra={"count": pruned})
            self.store.maintenance()
            self.failing.pop("cleanup", None)
        except Exception as exc:
            log.exception("cleanup failed")
            self.metrics.record_error("cleanup")
            self.failing["cleanup"] = str(exc) or type(exc).__name__

    # -- health ----------------------------------------------------------------------------

    def healthy(self) -> tuple[bool, str]:
        """Healthy when the last poll tick finished recently, no job is failing and the
        database answers."""
        limit = timedelta(seconds=stale_after(self.settings))
        if self.last_tick is None:
            return False, "no poll tick has finished yet"
        age = datetime.now(UTC) - self.last_tick
        if age > limit:
            return False, f"last poll tick finished {int(age.total_seconds())} s ago"
        if self.failing:
            return False, "failing jobs: " + "; ".join(f"{k}: {v}" for k, v in self.failing.items())
        try:
            self.store.ping()
        except Exception as exc:
            return False, f"database does not answer: {exc}"
        return True, "ok"

    def _alive(self) -> bool:
        """Healthy, or still in its first pass (which may take long) for no longer than a
        poll may be late: what the service manager's watchdog is told."""
        if self.last_tick is None:
            age = (datetime.now(UTC) - self.started).total_seconds()
            return age < stale_after(self.settings) and not self.failing
        return self.healthy()[0]

    def _info(self, stopped: datetime | None = None) -> DaemonInfo:
        # Not asked of the scheduler: a job thread calling into it deadlocks with its shutdown.
        tick = timedelta(seconds=self.settings.daemon.poll_seconds)
        next_tick = self.last_tick + tick if self.last_tick and not stopped else None
        return DaemonInfo(
            id=self.id,
            host=socket.gethostname(),
            pid=os.getpid(),
            started=self.started,
            last_tick=self.last_tick,
            next_tick=next_tick,
            stopped=stopped,
        )

    def _send_time(self, r: Recipient) -> tuple[str, str]:
        return (
            r.send_at or self.settings.digest.send_at,
            r.timezone or self.settings.digest.timezone,
        )


def stale_after(settings: Settings) -> float:
    """Seconds without a finished poll after which a daemon is unhealthy: three poll
    intervals, and no less than 30 s so that a short tick does not make it flap."""
    return max(3 * settings.daemon.poll_seconds, 30.0)


def _with_database(settings: Settings, url: str) -> Settings:
    from dataclasses import replace

    return replace(settings, database_url=url)
