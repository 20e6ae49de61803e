"""Story clustering measured against the editorial labels, and the `stories eval` command."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from monitor.cluster.evaluate import cluster_items, labels_of, pairwise, read_items
from monitor.commands.stories import stories

DEV = Path(__file__).parent / "data" / "labels" / "stories-dev.csv"
PRECISION_TARGET = 0.95
RECALL_TARGET = 0.85


def _dev_score() -> tuple[float, float]:
    items = read_items(DEV)
    labels = labels_of(items)
    assert labels is not None
    score = pairwise(labels, cluster_items(items))
    return score.precision, score.recall


def test_dev_precision_meets_target() -> None:
    precision, _ = _dev_score()
    assert precision >= PRECISION_TARGET


def test_dev_recall_meets_target() -> None:
    _, recall = _dev_score()
    assert recall >= RECALL_TARGET


def test_pairwise_counts() -> None:
    labels = {"a": "S1", "b": "S1", "c": "S1", "d": "S2"}
    clusters = {"a": 1, "b": 1, "c": 2, "d": 2}
    score = pairwise(labels, clusters)
    assert (score.true_pairs, score.predicted_pairs, score.correct_pairs) == (3, 2, 1)
    assert score.precision == 0.5 and abs(score.recall - 1 / 3) < 1e-9
    assert score.wrong_merges == (("c", "d"),)
    assert set(score.missed) == {("a", "c"), ("b", "c")}


def test_eval_json_shape() -> None:
    result = CliRunner().invoke(stories, ["eval", str(DEV), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    for key in ("precision", "recall", "f1", "cluster_count", "wrong_merges", "missed"):
        assert key in out
    assert len(out["clusters"]) == 197
    assert all(isinstance(v, int) for v in out["clusters"].values())
    assert out["cluster_count"] == len(set(out["clusters"].values()))


def test_eval_without_labels_just_clusters(tmp_path: Path) -> None:
    unlabelled = tmp_path / "items.csv"
    unlabelled.write_text(
        "id,source,published,link,title,summary\n"
        "x1,Dawn,2025-10-17T14:00:00+00:00,https://www.dawn.com/news/1/a,"
        "Pakistan and Afghanistan extend ceasefire,The truce was extended.\n"
        "x2,Dawn,2025-10-17T15:00:00+00:00,https://www.dawn.com/news/1/a?utm_source=x,"
        "Pakistan and Afghanistan extend ceasefire again,Extended.\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(stories, ["eval", str(unlabelled), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert "precision" not in out and out["clusters"]["x1"] == out["clusters"]["x2"]
    text = CliRunner().invoke(stories, ["eval", str(unlabelled)])
    assert "2 items in 1 clusters" in text.output
