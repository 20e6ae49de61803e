"""`monitor web`: the analyst's desk, a web view of the database with feedback (monitor.web),
and `monitor web passwd NAME`, which makes a user's password hash for `[web.users]`."""

from __future__ import annotations

import re

import click

from monitor.commands.common import open_store, settings_of

_NAME = re.compile(r"[A-Za-z0-9._@-]{1,100}")


@click.group("web", invoke_without_command=True)
@click.option(
    "--listen",
    metavar="HOST:PORT",
    default=None,
    help="Address to serve on (default: [web] listen, else 127.0.0.1:8080); loopback only "
    "unless [web.users] or [web] proxy_header sign people in.",
)
@click.pass_context
def web(ctx: click.Context, listen: str | None) -> None:
    """Serve the web view: stories, search, feeds to subscribe to, feed health, the digest
    ledger, and analysts' feedback. Without users or a trusted proxy it listens on a
    loopback address only."""
    if ctx.invoked_subcommand is not None:
        return
    from monitor.web.server import DEFAULT_LISTEN, serve_config

    settings = settings_of(ctx)
    address = listen or settings.web.listen or DEFAULT_LISTEN
    server = serve_config(open_store(ctx), settings.web, address)
    click.echo(f"serving the desk on {server.url} (Ctrl-C stops)")
    server.serve()


@web.command("passwd")
@click.argument("name")
@click.password_option("--password", prompt="Password", help="Read from the terminal if not given.")
def passwd(name: str, password: str) -> None:
    """Print NAME's argon2 password hash, as a line of the config's [web.users] table."""
    from monitor.errors import ConfigError
    from monitor.web.auth import hash_password

    if not _NAME.fullmatch(name):
        raise ConfigError("web.users", name, "a user name is 1 to 100 letters, digits or . _ @ -")
    if len(password) < 12:
        raise click.BadParameter("at least 12 characters", param_hint="password")
    click.echo("# add to the config file, then restart the desk:")
    click.echo("[web.users]")
    click.echo(f'"{name}" = "{hash_password(password)}"')
