"""What every command needs: the settings loaded once per invocation, an open store, and
`--json` output (one JSON document on stdout, for scripts)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

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


def echo_json(data: Any) -> None:
    """`data` as indented JSON on stdout: dataclasses as objects, datetimes in ISO 8601 (UTC
    offsets kept), paths as strings."""
    import json

    click.echo(json.dumps(data, default=_plain, ensure_ascii=False, indent=2))


def _plain(obj: Any) -> Any:
    from dataclasses import asdict, is_dataclass
    from datetime import datetime

    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def complete_feed(
    ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Shell completion of a FEED argument: the names of the configured feeds and of those
    stored in the database (added with `feeds add`), that start with what was typed. A
    config or database that cannot be read gives no names, never an error in the shell."""
    from click.shell_completion import CompletionItem

    from monitor.settings import load_settings

    names: dict[str, None] = {}
    try:
        settings = load_settings(ctx.find_root().params.get("config_path"))
        names.update(dict.fromkeys(f.name for f in settings.feeds))
        sqlite_file = settings.database_url.partition(":///")[2].partition("?")[0]
        if not settings.database_url.startswith("sqlite") or Path(sqlite_file).is_file():
            # (a missing SQLite file is not created by pressing Tab)
            from monitor.store import Store

            store = Store(settings.database_url, cluster_settings=settings.stories)
            try:
                names.update(dict.fromkeys(h.name for h in store.feed_health()))
            finally:
                store.close()
    except Exception:  # whatever went wrong, the shell gets names or none, no traceback
        pass
    folded = incomplete.casefold()
    return [CompletionItem(n) for n in names if n.casefold().startswith(folded)]
