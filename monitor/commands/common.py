"""What every command needs: the settings loaded once per invocation and an open store."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from monitor.settings import Settings
    from monitor.store import Store


def settings_of(ctx: click.Context) -> Settings:
    """The configuration named by `--config` (or the defaults), loaded once per invocation."""
    from monitor.settings import load_settings

    obj = ctx.find_root().obj
    if obj is None:
        obj = ctx.find_root().obj = {}
    if "settings" not in obj:
        obj["settings"] = load_settings(obj.get("config"))
    return obj["settings"]  # type: ignore[no-any-return]


def open_store(ctx: click.Context) -> Store:
    """The configured database, schema-checked, with the configured feeds registered."""
    from monitor.store import Store

    settings = settings_of(ctx)
    store = Store(settings.database_url, cluster_settings=settings.stories)
    ctx.call_on_close(store.close)
    store.sync_feeds(settings.feeds)
    return store
