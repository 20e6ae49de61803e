"""The `monitor` command line. Heavy imports happen inside commands so `--help` is instant.

Every command loads the configuration once; a `MonitorError` (bad config, database behind,
bad rules) is printed as one clear line and exits 2, without a traceback.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from monitor.settings import Settings
    from monitor.store import Store

PROJECT_DIR = Path(__file__).resolve().parents[1]


class _Group(click.Group):
    """Turns MonitorError into a one-line message and exit status 2."""

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
    help="Config file (default: $MONITOR_CONFIG, config/monitor.toml, monitor.toml).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
@click.version_option(package_name="frontier-monitor")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """Frontier Monitor: news on the Pakistan–Afghanistan frontier, matched and mailed."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = {"config": config_path}


def settings_of(ctx: click.Context) -> Settings:
    from monitor.settings import load_settings

    obj = ctx.find_root().obj
    if "settings" not in obj:
        obj["settings"] = load_settings(obj.get("config"))
    return obj["settings"]  # type: ignore[no-any-return]


def open_store(ctx: click.Context) -> Store:
    from monitor.store import Store

    settings = settings_of(ctx)
    store = Store(settings.database_url)
    ctx.call_on_close(store.close)
    store.sync_feeds(settings.feeds)
    return store


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
    for path, text in (
        (config, STARTER_CONFIG),
        (rules, (PROJECT_DIR / "config" / "rules.toml").read_text("utf-8")),
    ):
        if path.exists() and not force:
            click.echo(f"kept {path} (exists; --force to overwrite)")
        else:
            path.write_text(text, encoding="utf-8")
            click.echo(f"wrote {path}")
    db_path = directory / "var" / "monitor.db"
    upgrade(f"sqlite:///{db_path}")
    click.echo(f"database {db_path} is ready")
    click.echo(f"next: MONITOR_CONFIG={config} monitor check  (run it from {directory})")


STARTER_CONFIG = """\
# Frontier Monitor configuration. Relative paths are relative to the working directory,
# except `rules`, which is relative to this file.
rules = "rules.toml"

[database]
url = "sqlite:///var/monitor.db"

[fetch]
allow_networks = []

[delivery]
outbox = "var/outbox"

[digest]
from = "monitor@example.org"
send_at = "07:00"
timezone = "Asia/Karachi"

[[digest.recipients]]
address = "analyst@example.org"

[[feeds]]
name = "Dawn — Pakistan"
url = "https://www.dawn.com/feeds/pakistan"
language = "en"
"""


@main.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("show")
@click.pass_context
def config_show(ctx: click.Context) -> None:
    """Print the effective configuration, secrets redacted."""
    import json

    from monitor.settings import redacted

    click.echo(json.dumps(redacted(settings_of(ctx)), indent=2, ensure_ascii=False))


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


# -- check -----------------------------------------------------------------------------


@main.command()
@click.option("--feed", "feeds", multiple=True, metavar="NAME", help="Only this feed (repeatable).")
@click.option("--all", "ignore_schedule", is_flag=True, help="Poll every feed, due or not.")
@click.option("--dry-run", is_flag=True, help="Fetch and match, but store nothing.")
@click.pass_context
def check(ctx: click.Context, feeds: tuple[str, ...], ignore_schedule: bool, dry_run: bool) -> None:
    """Run one poll pass now and print the new matching items."""
    from monitor.errors import ConfigError
    from monitor.match import Matcher
    from monitor.pipeline import poll
    from monitor.report import print_pass

    settings = settings_of(ctx)
    for name in feeds:
        if settings.feed(name) is None:
            raise ConfigError(str(settings.path), "feeds", f"no feed named {name!r}")
    matcher = Matcher.from_file(settings.rules_path)
    store = open_store(ctx)
    report = poll(
        settings,
        store,
        matcher,
        names=feeds or None,
        ignore_schedule=ignore_schedule or bool(feeds),
        dry_run=dry_run,
    )
    print_pass(report, dry_run=dry_run)


# -- digest ----------------------------------------------------------------------------


@main.group()
def digest() -> None:
    """Digest emails: preview, send and list."""


def _recipients(ctx: click.Context, address: str | None) -> Any:
    from monitor.errors import ConfigError

    settings = settings_of(ctx)
    if address is None:
        if not settings.digest.recipients:
            raise ConfigError(str(settings.path), "digest.recipients", "no recipients configured")
        return settings.digest.recipients
    found = [r for r in settings.digest.recipients if r.address == address]
    if not found:
        raise ConfigError(str(settings.path), "digest.recipients", f"no recipient {address!r}")
    return found


@digest.command("preview")
@click.option("--recipient", default=None, help="Preview for this configured recipient.")
@click.pass_context
def digest_preview(ctx: click.Context, recipient: str | None) -> None:
    """Render the undelivered stories to HTML and text files; deliver nothing."""
    from monitor.deliver import preview

    chosen = (
        _recipients(ctx, recipient)[0]
        if (recipient or settings_of(ctx).digest.recipients)
        else None
    )
    for path in preview(settings_of(ctx), open_store(ctx), datetime.now(UTC), chosen):
        click.echo(str(path))


@digest.command("send")
@click.option("--recipient", default=None, help="Only this configured recipient.")
@click.option("--dry-run", is_flag=True, help="Say what would be sent; record nothing.")
@click.pass_context
def digest_send(ctx: click.Context, recipient: str | None, dry_run: bool) -> None:
    """Deliver a digest of the undelivered stories to each recipient."""
    from monitor.deliver import send_digests

    failed = False
    for rep in send_digests(
        settings_of(ctx),
        open_store(ctx),
        datetime.now(UTC),
        recipients=_recipients(ctx, recipient),
        dry_run=dry_run,
    ):
        if rep.status == "empty":
            click.echo(f"{rep.recipient}: nothing new")
        elif rep.status == "sent":
            click.echo(
                f"{rep.recipient}: sent digest {rep.digest_id} "
                f"with {rep.stories} stories to {rep.where}"
            )
        elif rep.status == "dry-run":
            click.echo(f"{rep.recipient}: would send {rep.stories} stories: {rep.where}")
        else:
            failed = True
            click.secho(
                f"{rep.recipient}: digest {rep.digest_id} {rep.status}: {rep.error}",
                fg="red",
                err=True,
            )
    if failed:
        sys.exit(1)


@digest.command("list")
@click.option("--limit", default=30, show_default=True)
@click.pass_context
def digest_list(ctx: click.Context, limit: int) -> None:
    """The delivery ledger: when, to whom, how many stories, status, error."""
    from monitor.report import print_digests

    print_digests(open_store(ctx).digests(limit=limit))


# -- feeds -----------------------------------------------------------------------------


@main.group()
def feeds() -> None:
    """The feeds being polled and their health."""


@feeds.command("list")
@click.pass_context
def feeds_list(ctx: click.Context) -> None:
    """Every feed with status, last success, error streak and next check."""
    from monitor.report import print_feeds

    print_feeds(open_store(ctx).feed_health())


def _register_optional() -> None:
    """Command groups that live in their own modules."""
    import importlib

    for module, name in (
        ("monitor.commands.rules", "rules"),
        ("monitor.commands.stories", "stories"),
    ):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        main.add_command(getattr(mod, name))


_register_optional()
