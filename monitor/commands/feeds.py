"""`monitor feeds`: the feeds being polled and their health."""

from __future__ import annotations

import click

from monitor.commands.common import open_store


@click.group()
def feeds() -> None:
    """The feeds being polled and their health."""


@feeds.command("list")
@click.pass_context
def feeds_list(ctx: click.Context) -> None:
    """Every feed with status, last success, error streak and next check."""
    from monitor.report import print_feeds

    print_feeds(open_store(ctx).feed_health())
