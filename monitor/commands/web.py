"""`monitor web`: the analyst's desk, a web view of the database with feedback (monitor.web)."""

from __future__ import annotations

import click

from monitor.commands.common import open_store, settings_of


@click.command("web")
@click.option(
    "--listen",
    metavar="HOST:PORT",
    default=None,
    help="Address to serve on, loopback only (default: [web] listen, else 127.0.0.1:8080).",
)
@click.pass_context
def web(ctx: click.Context, listen: str | None) -> None:
    """Serve the web view: stories, search, feeds to subscribe to, feed health, the digest
    ledger, and analysts' feedback. There is no login yet, so it listens on a loopback
    address only."""
    from monitor.web.server import DEFAULT_LISTEN, WebServer

    settings = settings_of(ctx)
    server = WebServer(
        open_store(ctx), listen or settings.web.listen or DEFAULT_LISTEN, settings.web.secret
    )
    click.echo(f"serving the desk on {server.url} (Ctrl-C stops)")
    server.serve()
