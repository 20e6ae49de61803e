"""`monitor digest`: preview, send and list digests."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import click

from monitor.commands.common import open_store, settings_of


@click.group()
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
