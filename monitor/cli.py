"""The `monitor` command line. Heavy imports happen inside commands so `--help` is instant.

Every command loads the configuration once; a `MonitorError` (bad config, database behind,
bad rules) is printed as one clear line and exits 2, without a traceback.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from monitor.collector import collect_less_often, skip_collecting_at_exit
from monitor.commands.common import complete_feed, open_store, settings_of


def default_file(name: str) -> str:
    """A template `monitor init` writes, shipped inside the package (monitor/defaults/)."""
    from importlib.resources import files

    return (files("monitor") / "defaults" / name).read_text("utf-8")


# Command groups that live in their own modules, imported only when used (fast --help).
LAZY_COMMANDS = {
    "digest": "monitor.commands.digest:digest",
    "feedback": "monitor.commands.feedback:feedback",
    "feeds": "monitor.commands.feeds:feeds",
    "rules": "monitor.commands.rules:rules",
    "run": "monitor.commands.daemon:run",
    "status": "monitor.commands.daemon:status",
    "stories": "monitor.commands.stories:stories",
    "web": "monitor.commands.web:web",
}


class _Group(click.Group):
    """Loads LAZY_COMMANDS on demand; turns MonitorError into one line and exit status 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            import importlib

            module, _, attr = LAZY_COMMANDS[cmd_name].partition(":")
            command: click.Command = getattr(importlib.import_module(module), attr)
            return command
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        from monitor.errors import MonitorError

        try:
            return super().invoke(ctx)
        except MonitorError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="MONITOR_CONFIG",
    help="Config file (default: $MONITOR_CONFIG, else the first of config/monitor.toml, "
    "monitor.toml, $XDG_CONFIG_HOME/frontier-monitor/monitor.toml, "
    "/etc/frontier-monitor/monitor.toml).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
@click.version_option(package_name="frontier-monitor")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """Frontier Monitor: news on the Pakistan–Afghanistan frontier, matched and mailed."""
    collect_less_often()
    skip_collecting_at_exit()
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = {"config": config_path}


# -- init, config, db ------------------------------------------------------------------


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."))
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def init(directory: Path, force: bool) -> None:
    """Write a starter config (monitor.toml, rules.toml) into DIRECTORY and migrate its database."""
    from monitor.store.engine import upgrade

    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "monitor.toml"
    rules = directory / "rules.toml"
    for path, text in ((config, default_file("monitor.toml")), (rules, default_file("rules.toml"))):
        if path.exists() and not force:
            click.echo(f"kept {path} (exists; --force to overwrite)")
        else:
            path.write_text(text, encoding="utf-8")
            click.echo(f"wrote {path}")
    db_path = directory / "var" / "monitor.db"
    upgrade(f"sqlite:///{db_path}")
    click.echo(f"database {db_path} is ready")
    click.echo(f"next: MONITOR_CONFIG={config} monitor check")


@main.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: values and origins.")
@click.pass_context
def config_show(ctx: click.Context, as_json: bool) -> None:
    """Print the effective configuration, secrets redacted, and where each value came from:
    the file, the environment (which variable) or the default."""
    import json

    from monitor.settings import described, redacted

    settings = settings_of(ctx)
    rows = described(settings)
    if as_json:
        data = {**redacted(settings), "origins": {key: origin for key, _, origin in rows}}
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(f"# config file: {settings.path}")
    for key, value, origin in rows:
        if isinstance(value, list) and value and isinstance(value[0], dict):
            shown = f"[{len(value)} tables]"  # feeds, recipients: too long for one line
        else:
            shown = json.dumps(value, ensure_ascii=False)
        click.echo(f"{key} = {shown}  # {origin}")


@main.group()
def db() -> None:
    """Database schema: upgrade and inspect."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply every pending migration."""
    from monitor.settings import redact_url
    from monitor.store.engine import upgrade

    url = settings_of(ctx).database_url
    before, after = upgrade(url)
    click.echo(f"{redact_url(url)}: {before or 'empty'} -> {after}")


@db.command("copy")
@click.option(
    "--to",
    "target",
    required=True,
    metavar="URL",
    help="The new, empty database, e.g. postgresql+psycopg://user@host/monitor.",
)
@click.pass_context
def db_copy(ctx: click.Context, target: str) -> None:
    """Copy the whole database, delivery ledger included, into a new one (e.g. PostgreSQL)."""
    from monitor.settings import redact_url
    from monitor.store.copy import copy_database

    counts = copy_database(settings_of(ctx).database_url, target)
    for table, n in counts.items():
        click.echo(f"{table}: {n} rows")
    click.echo(
        f"copied into {redact_url(target)}; point [database] url (or MONITOR_DATABASE_URL) at it"
    )


@db.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """Print the schema revision of the database and of this version."""
    from monitor.store.engine import current_revision, head_revision, make_engine

    engine = make_engine(settings_of(ctx).database_url)
    try:
        current, head = current_revision(engine), head_revision()
    finally:
        engine.dispose()
    click.echo(
        f"database: {current or 'empty'}\nthis version: {head}\n"
        + ("up to date" if current == head else "behind: run `monitor db upgrade`")
    )


@db.command("prune")
@click.option("--days", type=click.IntRange(min=1), default=90, show_default=True)
@click.pass_context
def db_prune(ctx: click.Context, days: int) -> None:
    """Delete items first seen more than DAYS ago; tombstones keep them from coming back."""
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    pruned = open_store(ctx).prune(now - timedelta(days=days), now)
    click.echo(f"pruned {pruned} items older than {days} days")


# -- check -----------------------------------------------------------------------------


@main.command()
@click.option(
    "--feed",
    "feeds",
    multiple=True,
    metavar="NAME",
    shell_complete=complete_feed,
    help="Only this feed (repeatable).",
)
@click.option("--all", "ignore_schedule", is_flag=True, help="Poll every feed, due or not.")
@click.option("--dry-run", is_flag=True, help="Fetch and match, but store nothing.")
@click.option(
    "--show",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    metavar="N",
    help="List at most N new matching items.",
)
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="Print only the summary line (and alerts sent): no progress, no items.",
)
@click.pass_context
def check(
    ctx: click.Context,
    feeds: tuple[str, ...],
    ignore_schedule: bool,
    dry_run: bool,
    show: int,
    quiet: bool,
) -> None:
    """Run one poll pass now and print the new matching items.

    On a terminal a progress bar shows the pass: feeds done of those due, new items,
    matches and failures. When the output is not a terminal, nothing is printed until the
    pass ends; with --quiet, only the summary line is.
    """
    import contextlib
    from datetime import UTC, datetime

    from monitor.errors import ConfigError
    from monitor.match import Matcher
    from monitor.pipeline import poll
    from monitor.report import is_terminal, pass_progress, pass_summary, print_pass

    settings = settings_of(ctx)
    for name in feeds:
        if settings.feed(name) is None:
            raise ConfigError(str(settings.path), "feeds", f"no feed named {name!r}")
    matcher = Matcher.from_file(settings.rules_path)
    store = open_store(ctx)
    names, every = feeds or None, ignore_schedule or bool(feeds)
    if quiet and logging.getLogger().level > logging.INFO:  # -v still logs
        logging.getLogger("monitor").setLevel(logging.ERROR)  # failures are in the summary
    progress: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
    if is_terminal() and not quiet:
        due = store.due_feeds(datetime.now(UTC), names=names, ignore_schedule=every)
        progress = pass_progress(len(due))
    with progress as advance:
        report = poll(
            settings,
            store,
            matcher,
            names=names,
            ignore_schedule=every,
            dry_run=dry_run,
            listed=0 if quiet else show,
            progress=advance,
        )
    try:
        if quiet:
            click.echo(pass_summary(report))
        else:
            print_pass(report, dry_run=dry_run, show=show)
    finally:  # the pass is stored: its alerts go out even if the table could not be shown
        if not dry_run and settings.digest.recipients:  # no recipients: no alerts to send
            from monitor.deliver import send_alerts

            for rep in send_alerts(settings, store, datetime.now(UTC)):
                line = f"alert {rep.digest_id} to {rep.recipient}: {rep.status}"
                click.echo(line + (f" ({rep.error})" if rep.error else ""))
