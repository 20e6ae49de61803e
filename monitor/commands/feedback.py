"""`monitor feedback list` and `monitor feedback export DIR`: what analysts flagged on the
desk, and the label files that let `rules eval` and `stories eval` measure the rules on it."""

from __future__ import annotations

import csv
from pathlib import Path

import click
from rich.markup import escape

from monitor.commands.common import open_store

__all__ = ["feedback"]


@click.group("feedback")
def feedback() -> None:
    """Analysts' feedback: stories not relevant, reports split out, items the rules missed."""


@feedback.command("list")
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True)
@click.pass_context
def feedback_list(ctx: click.Context, limit: int) -> None:
    """Feedback, newest first: when, who, what and on which story or item."""
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    rows = open_store(ctx).feedback(limit=limit)
    if not rows:
        click.echo("no feedback yet")
        return
    for f in rows:
        when = f.created.strftime("%Y-%m-%d %H:%M UTC")
        if f.kind == "split":
            what = f"split report {f.item_id} out of story {f.story_id} into {f.split_story_id}"
        elif f.kind == "not_relevant":
            what = f"story {f.story_id} not relevant"
        else:
            target = f"item {f.item_id}" if f.item_id is not None else "not stored"
            what = f"missed: {target}" + (f" {f.url}" if f.url else "")
            what += f" (topic {f.topic})" if f.topic else ""
        note = f": {f.note}" if f.note else ""
        console.print(escape(f"{f.id:>5}  {when}  {f.who}  {what}{note}"))


@feedback.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.pass_context
def feedback_export(ctx: click.Context, directory: Path) -> None:
    """Write DIRECTORY/relevance.csv (for `monitor rules eval`) and DIRECTORY/stories.csv
    (for `monitor stories eval`) from the stored feedback."""
    from monitor.feedback import (
        RELEVANCE_COLUMNS,
        STORIES_COLUMNS,
        relevance_rows,
        stories_rows,
        unexported,
        wanted,
    )

    store = open_store(ctx)
    rows = store.feedback()
    item_ids, story_ids = wanted(rows)
    reports = store.label_rows(item_ids=item_ids, story_ids=story_ids)
    directory.mkdir(parents=True, exist_ok=True)
    for name, columns, body in (
        ("relevance.csv", RELEVANCE_COLUMNS, relevance_rows(rows, reports)),
        ("stories.csv", STORIES_COLUMNS, stories_rows(rows, reports)),
    ):
        path = directory / name
        tmp = path.with_suffix(".csv.tmp")
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            writer.writerows(body)
        tmp.replace(path)  # a reader never sees half a file
        click.echo(f"{path}: {len(body)} rows")
    for f in unexported(rows):
        click.echo(f"not exported: missed item {f.url} (feedback {f.id}) is not stored")
