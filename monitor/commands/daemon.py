"""`monitor run` (the daemon) and `monitor status` (what it is doing)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from monitor.commands.common import open_store, settings_of


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
    """Run the daemon: poll due feeds every tick, send digests at their times. Stop with SIGTERM."""
    import logging

    from monitor import logs
    from monitor.daemon import Daemon

    logs.setup(level=getattr(logging, log_level.upper()), fmt=log_format)
    sys.exit(Daemon(ctx.find_root().obj.get("config")).run())


@click.command()
@click.pass_context
def status(ctx: click.Context) -> None:
    """Is a daemon running; last and next poll; failing feeds; pending digests; next digests."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from monitor import schedule
    from monitor.daemon import SingleDaemonLock

    settings = settings_of(ctx)
    store = open_store(ctx)
    now = datetime.now(UTC)
    console = Console(highlight=False)
    limit = max(3 * settings.daemon.poll_seconds, 120)
    alive = [
        d
        for d in store.daemons()
        if d.stopped is None and d.last_tick and (now - d.last_tick).total_seconds() < limit
    ]
    locked = SingleDaemonLock(settings).held_by_other()
    if alive:
        for d in alive:
            console.print(
                f"daemon: [green]running[/green] on {escape(d.host)} (pid {d.pid}), "
                f"since {_t(d.started)}; "
                f"last poll {_t(d.last_tick)}, next poll {_t(d.next_tick)}"
            )
    elif locked:
        console.print("daemon: [yellow]running, no poll finished recently[/yellow]")
    else:
        console.print("daemon: [red]not running[/red]")
    health = store.feed_health()
    failing = [h for h in health if h.error_streak and not h.gone]
    gone = [h for h in health if h.gone]
    console.print(f"feeds: {len(health)} ({len(failing)} failing, {len(gone)} gone)")
    for h in failing:
        console.print(
            f"  [red]failing[/red] {escape(h.name)} since {_t(h.failing_since)}: "
            + escape(h.last_error or "")
        )
    for h in gone:
        console.print(f"  [red]gone[/red] {escape(h.name)}")
    pending = store.digests(status="pending")
    failed = store.digests(status="failed", limit=10)
    console.print(f"digests: {len(pending)} pending, {len(failed)} failed (recent)")
    table = Table(title="Next digests")
    table.add_column("recipient")
    table.add_column("next digest")
    table.add_column("last digest")
    for r in settings.digest.recipients:
        send_at, tz = r.send_at or settings.digest.send_at, r.timezone or settings.digest.timezone
        table.add_row(
            escape(r.address),
            f"{schedule.next_scheduled(now, send_at, tz):%Y-%m-%d %H:%M} UTC ({send_at} {tz})",
            _t(store.last_digest_created(r.address, "digest")),
        )
    console.print(table)


def _t(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"
