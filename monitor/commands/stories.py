"""The `stories` command group: story clustering from the command line.

Owns `stories eval LABELS.csv... [--json]`, which clusters each labels file as the
pipeline would (publication order, in memory, no database) and scores it pairwise against
the `story` column when there is one, per file and pooled, and `stories list [--since
24h]` / `stories show ID`, which read the stories the pipeline stored and say why each
report joined its story.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from monitor.cluster.decide import ClusterSettings
from monitor.cluster.evaluate import (
    LabelsError,
    PairwiseScore,
    cluster_items,
    labels_of,
    pairwise,
    pooled,
    read_items,
)
from monitor.commands.common import echo_json, open_store

__all__ = ["stories"]

_SHOW_PAIRS = 25  # enough to see the pattern of errors without flooding a terminal


@click.group("stories")
def stories() -> None:
    """Stories: duplicates and cross-outlet copies of one event, folded together."""


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")
_UNIT = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _duration(value: str) -> timedelta:
    m = _DURATION.match(value)
    if m is None:
        raise click.BadParameter(f"expected a duration like 90m, 24h, 7d or 2w, got {value!r}")
    return timedelta(**{_UNIT[m[2]]: float(m[1])})


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value is not None else "-"


@stories.command("list")
@click.option("--since", default="24h", show_default=True, help="Stories first seen within.")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="A JSON array instead of text.")
@click.pass_context
def list_command(ctx: click.Context, since: str, limit: int, as_json: bool) -> None:
    """Stories first seen recently: id, first seen (UTC), headline, outlets, topics."""
    cutoff = datetime.now(UTC) - _duration(since)
    rows = open_store(ctx).story_rows(since=cutoff, limit=limit)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(f"no stories first seen in the last {since}")
        return
    for r in rows:
        outlets = f"{len(r.outlets)} outlet{'s' if len(r.outlets) != 1 else ''}"
        reports = f"{r.items} report{'s' if r.items != 1 else ''}"
        topics = ", ".join(r.topics) or "-"
        click.echo(f"{r.id:>6}  {_when(r.first_seen)}  {r.title[:80]}")
        click.echo(f"        {outlets} ({', '.join(r.outlets)}), {reports}; topics: {topics}")


@stories.command("show")
@click.argument("story_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
@click.pass_context
def show_command(ctx: click.Context, story_id: int, as_json: bool) -> None:
    """A story's reports (outlet, link, published) and why each joined the story."""
    from dataclasses import asdict

    store = open_store(ctx)
    rows = store.story_rows_by_id([story_id])
    if not rows:
        raise click.ClickException(f"no story {story_id}")
    head = rows[0]
    if as_json:
        updates = store.story_updates(story_id)
        echo_json(
            {
                **asdict(head),
                "reports": store.story_items(story_id),
                "updates": [{"when": when, "reason": reason} for when, reason in updates],
            }
        )
        return
    click.echo(f"story {head.id}: {head.title}")
    click.echo(f"first seen {_when(head.first_seen)} UTC; outlets: {', '.join(head.outlets)}")
    click.echo(f"topics: {', '.join(head.topics) or '-'}")
    for item in store.story_items(story_id):
        click.echo(f"\n  [{item.item_id}] {item.outlet}: {item.title}")
        click.echo(f"      {item.link or '(no link)'}")
        click.echo(f"      published {_when(item.published)}, fetched {_when(item.fetched)}")
        click.echo(f"      joined: {item.reason}")
    updates = store.story_updates(story_id)
    if updates:
        click.echo("\nupdates:")
        for when, reason in updates:
            click.echo(f"  {_when(when)}  {reason}")


def _figures(score: PairwiseScore) -> dict[str, object]:
    return {
        "precision": round(score.precision, 4),
        "recall": round(score.recall, 4),
        "f1": round(score.f1, 4),
        "true_pairs": score.true_pairs,
        "predicted_pairs": score.predicted_pairs,
        "correct_pairs": score.correct_pairs,
    }


def _line(score: PairwiseScore) -> str:
    return (
        f"pairwise precision {score.precision:.3f}  recall {score.recall:.3f}  "
        f"F1 {score.f1:.3f}  ({score.correct_pairs} of {score.predicted_pairs} predicted "
        f"pairs correct; {score.true_pairs} labelled pairs)"
    )


@stories.command("eval")
@click.argument(
    "labels", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--window-hours", type=float, default=None, help="Override the time window.")
def eval_command(labels: tuple[Path, ...], as_json: bool, window_hours: float | None) -> None:
    """Cluster each LABELS.csv and score pairwise precision and recall against its `story`
    column: figures per file, then pooled over the files (pairs never cross files).

    With --json: the pooled figures and `clusters` (item id → story id, story ids distinct
    across files) at the top, and each file's figures under `files`."""
    settings = ClusterSettings()
    if window_hours is not None:
        settings = ClusterSettings(window_hours=window_hours)
    try:
        loaded = [(path, read_items(path)) for path in labels]
    except LabelsError as exc:
        raise click.ClickException(str(exc)) from exc
    clusters: dict[str, int] = {}
    titles: dict[str, str] = {}
    first_file: dict[str, Path] = {}
    files: list[tuple[Path, int, dict[str, int], PairwiseScore | None]] = []
    offset = 0  # story ids of each file follow the previous file's
    for path, items in loaded:
        own = cluster_items(items, settings)
        for item in items:
            if item.id in first_file:
                raise click.ClickException(
                    f"{path}: id {item.id!r} is also in {first_file[item.id]}: "
                    "ids must be unique across the files"
                )
            first_file[item.id] = path
            titles[item.id] = item.title
        base = offset
        clusters.update({item_id: base + sid for item_id, sid in own.items()})
        offset = max(clusters.values(), default=offset)
        truth = labels_of(items)
        files.append((path, len(items), own, pairwise(truth, own) if truth else None))
    scores = [score for *_, score in files if score is not None]
    total = pooled(scores) if scores else None
    cluster_count = len(set(clusters.values()))
    if as_json:
        out: dict[str, object] = {"items": len(clusters), "cluster_count": cluster_count}
        if total is not None:
            out.update(_figures(total))
            out["wrong_merges"] = [list(p) for p in total.wrong_merges]
            out["missed"] = [list(p) for p in total.missed]
        out["files"] = [
            {
                "file": str(path),
                "items": count,
                "cluster_count": len(set(own.values())),
                **(_figures(score) if score is not None else {}),
            }
            for path, count, own, score in files
        ]
        out["clusters"] = clusters
        click.echo(json.dumps(out, ensure_ascii=False))
        return

    for path, count, own, score in files:
        sizes = Counter(own.values())
        click.echo(
            f"{path}: {count} items in {len(sizes)} clusters "
            f"({sum(1 for n in sizes.values() if n > 1)} with two or more items)"
        )
        if score is not None:
            click.echo("  " + _line(score))
    if len(files) > 1 and total is not None:
        click.echo(f"pooled over {len(scores)} labelled files: {_line(total)}")
    if total is None:
        sizes = Counter(clusters.values())
        for story_id, size in sorted(sizes.items()):
            if size > 1:
                click.echo(f"\nstory {story_id}:")
                for item_id, sid in clusters.items():
                    if sid == story_id:
                        click.echo(f"  {item_id}  {titles[item_id]}")
        return
    for heading, pairs in (("wrongly merged", total.wrong_merges), ("missed", total.missed)):
        click.echo(f"\n{heading} ({len(pairs)}):")
        for a, b in pairs[:_SHOW_PAIRS]:
            click.echo(f"  {a}  {titles[a][:70]}\n  {b}  {titles[b][:70]}\n")
        if len(pairs) > _SHOW_PAIRS:
            click.echo(f"  … and {len(pairs) - _SHOW_PAIRS} more")
