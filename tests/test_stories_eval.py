"""Story clustering measured against the editorial labels, and the `stories eval` command."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cluster.evaluate import LabelsError, cluster_items, labels_of, pairwise, read_items
from monitor.commands.stories import stories

LABELS = Path(__file__).parent / "data" / "labels"
DEV = LABELS / "stories-dev.csv"
DEV2 = LABELS / "stories-dev2.csv"
FILES = [DEV, DEV2]  # every labelled stories file; each must meet the targets on its own
PRECISION_TARGET = 0.95
RECALL_TARGET = 0.80


@functools.cache
def _score(path: Path) -> tuple[float, float]:
    items = read_items(path)
    labels = labels_of(items)
    assert labels is not None
    score = pairwise(labels, cluster_items(items))
    return score.precision, score.recall


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_precision_meets_target_on_every_file(path: Path) -> None:
    precision, _ = _score(path)
    assert precision >= PRECISION_TARGET


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_recall_meets_target_on_every_file(path: Path) -> None:
    _, recall = _score(path)
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


def test_eval_several_files_per_file_and_pooled() -> None:
    result = CliRunner().invoke(stories, ["eval", str(DEV), str(DEV2), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    per_file = {Path(f["file"]).name: f for f in out["files"]}
    assert set(per_file) == {"stories-dev.csv", "stories-dev2.csv"}
    assert (per_file["stories-dev.csv"]["items"], per_file["stories-dev2.csv"]["items"]) == (
        197,
        163,
    )
    for f, path in ((per_file["stories-dev.csv"], DEV), (per_file["stories-dev2.csv"], DEV2)):
        precision, recall = _score(path)
        assert (f["precision"], f["recall"]) == (round(precision, 4), round(recall, 4))
    # Pooled: counts add up over the files, and `clusters` holds every item of both,
    # with no story id shared across files.
    for key in ("true_pairs", "predicted_pairs", "correct_pairs"):
        assert out[key] == sum(f[key] for f in per_file.values())
    assert out["precision"] == round(out["correct_pairs"] / out["predicted_pairs"], 4)
    assert len(out["clusters"]) == 197 + 163
    dev_ids = {it.id for it in read_items(DEV)}
    dev_stories = {s for i, s in out["clusters"].items() if i in dev_ids}
    dev2_stories = {s for i, s in out["clusters"].items() if i not in dev_ids}
    assert not dev_stories & dev2_stories
    text = CliRunner().invoke(stories, ["eval", str(DEV), str(DEV2)])
    assert "stories-dev.csv: 197 items" in text.output
    assert "stories-dev2.csv: 163 items" in text.output
    assert "pooled over 2 labelled files" in text.output


HEADER = "id,source,published,link,title,summary,story\n"
GOOD = "a1,Dawn,2025-10-17T14:00:00+00:00,https://x.example/1,Torkham reopens,Trade resumed.,S1\n"


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ("id,source,link,title\nx,Dawn,,Torkham reopens\n", ":1", "missing column 'published'"),
        (
            HEADER + GOOD + "a2,Geo,yesterday,,Chaman closed,,S2\n",
            ":3:3",
            "bad published time 'yesterday'",
        ),
        (HEADER + GOOD + "a3,Geo,,,Chaman closed,,S2\n", ":3:3", "empty 'published'"),
        (HEADER + GOOD + "a4,Geo,2025-10-17T15:00:00Z,,Chaman closed,,\n", ":3:7", "empty 'story'"),
        (
            HEADER + GOOD + '"a5",Geo,2025-10-17T15:00:00Z,,"Two\nlines",,S2\n' + GOOD,
            ":5:1",
            "duplicate id 'a1' (first on line 2)",
        ),
    ],
    ids=["missing-column", "bad-time", "empty-time", "empty-story", "duplicate-id"],
)
def test_bad_labels_name_file_line_and_column(
    tmp_path: Path, text: str, where: str, what: str
) -> None:
    path = tmp_path / "labels.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LabelsError) as caught:
        read_items(path)
    assert str(caught.value).startswith(f"{path}{where}: ")
    assert what in str(caught.value)
    result = CliRunner().invoke(stories, ["eval", str(path)])
    assert result.exit_code == 1
    assert f"{path}{where}: " in result.output and what in result.output


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
