"""`monitor feeds`: the feeds being polled, their health, and managing them (add, remove,
disable, enable, OPML import and export)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from monitor.commands.common import complete_feed, echo_json, open_store, settings_of

if TYPE_CHECKING:
    from monitor.settings import Settings


@click.group()
def feeds() -> None:
    """The feeds being polled, their health, and managing them."""


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array instead of a table.")
@click.pass_context
def feeds_list(ctx: click.Context, as_json: bool) -> None:
    """Every feed with status, last success, error streak, next check and items in 7 days."""
    from dataclasses import asdict

    from monitor.report import print_feeds

    health = open_store(ctx).feed_health()
    if as_json:
        echo_json([{**asdict(h), "status": h.status.label} for h in health])
        return
    print_feeds(health)


@feeds.command("add")
@click.argument("url")
@click.option("--name", help="Display name (default: the feed's own title).")
@click.option("--language", default="en", show_default=True, help="Language code of the feed.")
@click.pass_context
def feeds_add(ctx: click.Context, url: str, name: str | None, language: str) -> None:
    """Check URL, fetch it once, and start polling it.

    URL may also be a web page that links to its feed (an outlet's home page): the feed it
    links to is added, or, when it links to several, they are listed to choose from."""
    from monitor.errors import MonitorError
    from monitor.match import Matcher
    from monitor.pipeline import poll
    from monitor.report import print_pass
    from monitor.settings import feed_url_problem

    problem = feed_url_problem(url)
    if problem:
        raise MonitorError(f"cannot add feed: {problem}")
    settings = settings_of(ctx)
    url, body, count = _find_feed(settings, url, language)
    title = name or _title_of(body, url)
    store = open_store(ctx)
    store.add_feed(url, title, language=language)
    click.echo(f"added {title!r} ({url}): {count} items")
    report = poll(
        settings, store, Matcher.from_file(settings.rules_path), names=[title], ignore_schedule=True
    )
    print_pass(report)


def _find_feed(settings: Settings, url: str, language: str) -> tuple[str, bytes, int]:
    """The feed at `url`, or else the one feed the web page at `url` links to: its URL, its
    body and how many items it has. Raises MonitorError saying why there is none."""
    from monitor.discover import discover_feeds
    from monitor.errors import MonitorError

    body, error, count, moved_to = _fetch_items(settings, url, language)
    if error is None:
        return url, body, count
    # Relative links are relative to where the page is (http://outlet → https://www.outlet/).
    links = discover_feeds(body, moved_to or url)
    if not links:
        raise MonitorError(f"cannot add {url}: {error}")
    if len(links) > 1:
        listed = "\n".join(f"  {k.url}" + (f"  ({k.title})" if k.title else "") for k in links)
        raise MonitorError(
            f"cannot add {url}: it is a web page that links to {len(links)} feeds; "
            f"add one of them:\n{listed}"
        )
    feed_url = links[0].url
    click.echo(f"{url} is a web page; adding the feed it links to: {feed_url}")
    body, error, count, _ = _fetch_items(settings, feed_url, language)
    if error is not None:
        raise MonitorError(f"cannot add {feed_url}: {error}")
    return feed_url, body, count


def _fetch_items(
    settings: Settings, url: str, language: str
) -> tuple[bytes, str | None, int, str | None]:
    """Fetch `url` once and read it as a feed: the body, the reason it is no feed (or None),
    its item count, and the URL permanent redirects led to (or None). Raises MonitorError
    when nothing could be fetched."""
    import asyncio
    from datetime import UTC, datetime

    from monitor.errors import MonitorError
    from monitor.fetch import fetch_all
    from monitor.itemize import itemize
    from monitor.models import FeedState

    probe = FeedState(id=0, name=url, url=url, language=language)
    (result,) = asyncio.run(fetch_all([probe], settings.fetch))
    if not result.ok or result.body is None:
        raise MonitorError(f"cannot add {url}: {result.error or 'no feed returned'}")
    found = itemize(result.body, probe, result.content_type, datetime.now(UTC))
    return result.body, found.error, len(found.items), result.final_url


def _title_of(body: bytes, url: str) -> str:
    from monitor.parse import parse_feed

    try:
        title = parse_feed(body, url).title.strip()
    except Exception:
        title = ""
    return title[:300] or (urlsplit(url).hostname or url)


@feeds.command("remove")
@click.argument("feed", shell_complete=complete_feed)
@click.pass_context
def feeds_remove(ctx: click.Context, feed: str) -> None:
    """Stop polling FEED (name or URL) and hide it; stored items stay."""
    click.echo(f"removed {open_store(ctx).remove_feed(feed)!r}")


@feeds.command("disable")
@click.argument("feed", shell_complete=complete_feed)
@click.pass_context
def feeds_disable(ctx: click.Context, feed: str) -> None:
    """Stop polling FEED (name or URL) until it is enabled again."""
    click.echo(f"disabled {open_store(ctx).set_enabled(feed, False)!r}")


@feeds.command("enable")
@click.argument("feed", shell_complete=complete_feed)
@click.pass_context
def feeds_enable(ctx: click.Context, feed: str) -> None:
    """Poll FEED again (also after it was marked gone); it is due at once."""
    click.echo(f"enabled {open_store(ctx).set_enabled(feed, True)!r}")


@feeds.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def feeds_import(ctx: click.Context, file: Path) -> None:
    """Add every feed of an OPML file (feeds already polled are skipped)."""
    from monitor.errors import MonitorError
    from monitor.opml import read_opml

    found = read_opml(file.read_bytes(), str(file))
    store = open_store(ctx)
    added = 0
    for line in found.refused:
        click.echo(f"skipped {line}")
    for o in found.outlines:
        try:
            store.add_feed(o.url, o.name, language=o.language, origin="opml")
            added += 1
        except MonitorError as exc:
            click.echo(f"skipped {o.name}: {exc}")
    click.echo(f"imported {added} of {len(found.outlines) + len(found.refused)} feeds")


@feeds.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.pass_context
def feeds_export(ctx: click.Context, file: Path | None) -> None:
    """Write every feed as OPML 2.0 to FILE (default: standard output)."""
    from monitor.opml import Outline, write_opml

    outlines = [Outline(h.name, h.url, h.language) for h in open_store(ctx).feed_health()]
    data = write_opml(outlines, "Frontier Monitor feeds")
    if file is None:
        click.echo(data.decode("utf-8"), nl=False)
    else:
        file.write_bytes(data)
        click.echo(f"wrote {len(outlines)} feeds to {file}")
