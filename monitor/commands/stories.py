"""The `stories` command group: story clustering from the command line.

Owns `stories eval LABELS.csv [--json]`, which clusters a labels file as the pipeline
would (publication order, in memory, no database) and scores it pairwise against the
`story` column when there is one. Subcommands that read stories from the database
(`list`, `show`) are registered on this group by the store's side.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import click

from monitor.cluster.decide import ClusterSettings
from monitor.cluster.evaluate import cluster_items, labels_of, pairwise, read_items

__all__ = ["stories"]

_SHOW_PAIRS = 25  # enough to see the pattern of errors without flooding a terminal


@click.group("stories")
def stories() -> None:
    """Stories: duplicates and cross-outlet copies of one event, folded together."""


@stories.command("eval")
@click.argument("labels", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--window-hours", type=float, default=None, help="Override the time window.")
def eval_command(labels: Path, as_json: bool, window_hours: float | None) -> None:
    """Cluster LABELS.csv and score pairwise precision and recall against its `story` column."""
    settings = ClusterSettings()
    if window_hours is not None:
        settings = ClusterSettings(window_hours=window_hours)
    items = read_items(labels)
    clusters = cluster_items(items, settings)
    truth = labels_of(items)
    by_id = {it.id: it for it in items}
    cluster_count = len(set(clusters.values()))
    if as_json:
        out: dict[str, object] = {"items": len(items), "cluster_count": cluster_count}
        if truth is not None:
            score = pairwise(truth, clusters)
            out.update(
                precision=round(score.precision, 4),
                recall=round(score.recall, 4),
                f1=round(score.f1, 4),
                true_pairs=score.true_pairs,
                predicted_pairs=score.predicted_pairs,
                correct_pairs=score.correct_pairs,
                wrong_merges=[list(p) for p in score.wrong_merges],
                missed=[list(p) for p in score.missed],
            )
        out["clusters"] = clusters
        click.echo(json.dumps(out, ensure_ascii=False))
        return

    sizes = Counter(clusters.values())
    click.echo(
        f"{len(items)} items in {cluster_count} clusters "
        f"({sum(1 for n in sizes.values() if n > 1)} with two or more items)"
    )
    if truth is None:
        for story_id, size in sorted(sizes.items()):
            if size > 1:
                click.echo(f"\nstory {story_id}:")
                for item_id, sid in clusters.items():
                    if sid == story_id:
                        click.echo(f"  {item_id}  {by_id[item_id].title}")
        return
    score = pairwise(truth, clusters)
    click.echo(
        f"pairwise precision {score.precision:.3f}  recall {score.recall:.3f}  "
        f"F1 {score.f1:.3f}  ({score.correct_pairs} of {score.predicted_pairs} predicted "
        f"pairs correct; {score.true_pairs} labelled pairs)"
    )
    for heading, pairs in (("wrongly merged", score.wrong_merges), ("missed", score.missed)):
        click.echo(f"\n{heading} ({len(pairs)}):")
        for a, b in pairs[:_SHOW_PAIRS]:
            click.echo(f"  {a}  {by_id[a].title[:70]}\n  {b}  {by_id[b].title[:70]}\n")
        if len(pairs) > _SHOW_PAIRS:
            click.echo(f"  … and {len(pairs) - _SHOW_PAIRS} more")
