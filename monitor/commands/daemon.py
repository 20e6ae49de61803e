"""`monitor run` (the daemon) and `monitor status` (what it is doing)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from monitor.commands.common import echo_json, open_store, settings_of

if TYPE_CHECKING:
    from monitor.settings import Settings
    from monitor.store import DaemonInfo


@click.command()
@click.option(
    "--log-format",
    type=click.Choice(["human", "json"]),
    default="human",
    show_default=True,
    help="Log lines for people, or one JSON object per line.",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning"]),
    default="info",
    show_default=True,
)
@click.pass_context
def run(ctx: click.Context, log_format: str, log_level: str) -> None:
    """Run the daemon: poll due feeds every tick, send digests at their times. Stop with SIGTERM.

    Under systemd (Type=notify) it reports READY=1, WATCHDOG=1 while healthy and STOPPING=1
    on $NOTIFY_SOCKET."""
    import logging

    from monitor import logs
    from monitor.arenas import limit_malloc_arenas
    from monitor.daemon import Daemon

    limit_malloc_arenas()  # a long-lived, threaded process: see monitor/arenas.py

    logs.setup(level=getattr(logging, log_level.upper()), fmt=log_format)
    sys.exit(Daemon(ctx.find_root().obj.get("config")).run())


# `monitor status` exit codes, for scripts and monitoring checks.
RUNNING, NOT_RUNNING, UNHEALTHY = 0, 1, 3


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Is a daemon running; last and next poll; failing feeds; pending digests; next digests.

    \b
    Exit status:
      0  a daemon is running and healthy
      1  no daemon is running
      2  bad configuration, or the database needs `monitor db upgrade`
      3  a daemon is running but unhealthy: no poll finished for three poll intervals,
         or its /healthz (when daemon.http is set) reports a failing job
    """
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from monitor import schedule

    settings = settings_of(ctx)
    store = open_store(ctx)
    now = datetime.now(UTC)
    code, state, reason, alive = _daemon_state(settings, store.daemons(), now)
    health = store.feed_health()
    failing = [h for h in health if h.error_streak and not h.gone]
    gone = [h for h in health if h.gone]
    pending = store.digests(status="pending")
    failed = store.digests(status="failed", limit=10)
    upcoming = []
    for r in settings.digest.recipients:
        send_at, tz = r.send_at or settings.digest.send_at, r.timezone or settings.digest.timezone
        upcoming.append(
            (
                r.address,
                schedule.next_scheduled(now, send_at, tz),
                send_at,
                tz,
                store.last_digest_created(r.address, "digest"),
            )
        )
    if as_json:
        echo_json(
            {
                "daemon": {"state": state, "reason": reason, "daemons": alive},
                "feeds": {
                    "total": len(health),
                    "failing": [
                        {"name": h.name, "since": h.failing_since, "error": h.last_error}
                        for h in failing
                    ],
                    "gone": [h.name for h in gone],
                },
                "digests": {"pending": len(pending), "failed_recent": len(failed)},
                "next_digests": [
                    {"recipient": a, "next": n, "send_at": s, "timezone": z, "last": last}
                    for a, n, s, z, last in upcoming
                ],
            }
        )
        ctx.exit(code)
    console = Console(highlight=False)
    if code == RUNNING:
        for d in alive:
            console.print(
                f"daemon: [green]running[/green] on {escape(d.host)} (pid {d.pid}), "
                f"since {_t(d.started)}; "
                f"last poll {_t(d.last_tick)}, next poll {_t(d.next_tick)}"
            )
    elif code == UNHEALTHY:
        console.print(f"daemon: [yellow]running, unhealthy[/yellow]: {escape(reason)}")
    else:
        console.print("daemon: [red]not running[/red]")
    console.print(f"feeds: {len(health)} ({len(failing)} failing, {len(gone)} gone)")
    for h in failing:
        console.print(
            f"  [red]failing[/red] {escape(h.name)} since {_t(h.failing_since)}: "
            + escape(h.last_error or "")
        )
    for h in gone:
        console.print(f"  [red]gone[/red] {escape(h.name)}")
    console.print(f"digests: {len(pending)} pending, {len(failed)} failed (recent)")
    table = Table(title="Next digests")
    table.add_column("recipient")
    table.add_column("next digest")
    table.add_column("last digest")
    for address, next_at, send_at, tz, last in upcoming:
        table.add_row(escape(address), f"{next_at:%Y-%m-%d %H:%M} UTC ({send_at} {tz})", _t(last))
    console.print(table)
    ctx.exit(code)


def _daemon_state(
    settings: Settings, beats: list[DaemonInfo], now: datetime
) -> tuple[int, str, str, list[DaemonInfo]]:
    """(exit code, state, reason, the daemons that polled recently) from the heartbeats, the
    SQLite lock and, when daemon.http is set, the daemon's own /healthz."""
    import os
    import socket

    from monitor.daemon import SingleDaemonLock, stale_after

    limit = stale_after(settings)
    running = [d for d in beats if d.stopped is None]
    # A daemon that has not finished its first pass counts from its start.
    alive = [d for d in running if (now - (d.last_tick or d.started)).total_seconds() < limit]
    if alive:
        # Before the first pass ends /healthz says so, which is not a fault.
        failing = _healthz_problem(settings) if any(d.last_tick for d in alive) else None
        if failing:
            return UNHEALTHY, "unhealthy", failing, alive
        return RUNNING, "running", "ok", alive
    here = socket.gethostname()

    def process_exists(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    # A daemon holds the SQLite lock, or a heartbeat names a live process on this machine
    # (PostgreSQL has no lock), yet no poll finished within three intervals: hung or slow.
    if SingleDaemonLock(settings).held_by_other() or any(
        d.host == here and process_exists(d.pid) for d in running
    ):
        since = [d.last_tick for d in running if d.last_tick]
        last = f"last poll {_t(max(since))}" if since else "no poll finished yet"
        return UNHEALTHY, "unhealthy", f"no poll for three poll intervals ({last})", []
    return NOT_RUNNING, "not running", "no daemon is running", []


def _healthz_problem(settings: Settings) -> str | None:
    """What the daemon's /healthz reports when it is not ok (daemon.http set), else None."""
    import urllib.error
    import urllib.request

    if settings.daemon.http is None:
        return None
    url = f"http://{settings.daemon.http}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5):
            return None
    except urllib.error.HTTPError as exc:
        return f"{url}: {exc.read().decode('utf-8', 'replace').strip() or exc.code}"
    except OSError as exc:
        return f"{url} does not answer: {exc}"


def _t(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"
