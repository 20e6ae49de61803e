"""`monitor digest`: preview, send and list digests."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import click

from monitor.commands.common import echo_json, open_store, settings_of


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
@click.option("--open", "open_", is_flag=True, help="Open the HTML file in a browser.")
@click.pass_context
def digest_preview(ctx: click.Context, recipient: str | None, open_: bool) -> None:
    """Render what the next digest would hold to HTML and text files; deliver nothing."""
    from monitor.deliver import preview

    chosen = (
        _recipients(ctx, recipient)[0]
        if (recipient or settings_of(ctx).digest.recipients)
        else None
    )
    paths = preview(settings_of(ctx), open_store(ctx), datetime.now(UTC), chosen)
    for path in paths:
        click.echo(str(path))
    if open_:
        click.launch(str(paths[0]))


@digest.command("send")
@click.option("--recipient", default=None, help="Only this configured recipient.")
@click.option("--dry-run", is_flag=True, help="Say what would be sent; record nothing.")
@click.pass_context
def digest_send(ctx: click.Context, recipient: str | None, dry_run: bool) -> None:
    """Retry every pending copy now, then deliver a digest of the new stories to each recipient.

    Exits 1 when a copy is still pending or has failed (see `monitor digest list`).
    """
    from monitor.deliver import retry_pending, send_digests

    settings, store, now = settings_of(ctx), open_store(ctx), datetime.now(UTC)
    chosen = _recipients(ctx, recipient)
    reports = []
    if not dry_run:  # pending alerts first; pending digests are retried by send_digests
        reports += retry_pending(
            settings, store, now, force=True, recipients=[r.address for r in chosen], kind="alert"
        )
    reports += send_digests(settings, store, now, recipients=chosen, dry_run=dry_run)
    failed = False
    for rep in reports:
        what = "alert" if rep.kind == "alert" else "digest"
        if rep.status == "empty":
            click.echo(f"{rep.recipient}: nothing new")
        elif rep.status == "sent":
            extra = f" ({rep.left_out} counted, not shown in full)" if rep.left_out else ""
            click.echo(
                f"{rep.recipient}: sent {what} {rep.digest_id} "
                f"with {rep.stories} stories{extra} to {rep.where}"
            )
        elif rep.status == "dry-run":
            click.echo(f"{rep.recipient}: would send {rep.stories} stories ({rep.where})")
        else:
            failed = True
            label = {
                "failed": "failed permanently",
                "superseded": "attempt superseded, the copy is with another attempt",
            }.get(rep.status, "pending, will retry")
            click.secho(
                f"{rep.recipient}: {what} {rep.digest_id} {label}: {rep.error}",
                fg="red",
                err=True,
            )
    if failed:
        sys.exit(1)


@digest.command("retry")
@click.argument("digest_id", type=int)
@click.pass_context
def digest_retry(ctx: click.Context, digest_id: int) -> None:
    """Send a failed or pending copy again now (e.g. after fixing a refused address)."""
    from monitor.deliver import deliver

    store = open_store(ctx)
    row = store.requeue_digest(digest_id)
    if row is None:
        raise click.ClickException(f"no failed or pending digest {digest_id}")
    rep = deliver(settings_of(ctx), store, row, datetime.now(UTC))
    click.echo(
        f"{rep.recipient}: {rep.kind} {rep.digest_id} {rep.status}"
        + (f": {rep.error}" if rep.error else "")
    )
    if rep.status not in ("sent", "empty"):
        sys.exit(1)


@digest.command("list")
@click.option("--limit", default=30, show_default=True)
@click.option("--status", type=click.Choice(["pending", "sent", "failed"]), default=None)
@click.option("--json", "as_json", is_flag=True, help="A JSON array instead of a table.")
@click.pass_context
def digest_list(ctx: click.Context, limit: int, status: str | None, as_json: bool) -> None:
    """The delivery ledger: when, to whom, how many stories, status, error."""
    from monitor.report import print_digests

    rows = open_store(ctx).digests(limit=limit, status=status)
    if as_json:
        echo_json(rows)
        return
    print_digests(rows)
