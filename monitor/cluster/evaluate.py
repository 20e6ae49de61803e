"""Scoring a story clustering against editorial labels: pairwise precision and recall.

Owns `LabelledItem`, `read_items` (the labels CSV: id, source, published, link, title,
summary and, when labelled, story), `cluster_items` (clusters as the pipeline would: in
order of publication, no database, a `MemoryStoryIndex`) and `pairwise` (which pairs of
items a clustering puts together versus the labels). Pure apart from reading the CSV.
"""

from __future__ import annotations

import csv
import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.cluster.decide import ClusterSettings
from monitor.cluster.index import Clusterer, MemoryStoryIndex

__all__ = [
    "LabelledItem",
    "PairwiseScore",
    "cluster_items",
    "labels_of",
    "pairwise",
    "read_items",
]


@dataclass(frozen=True, slots=True)
class LabelledItem:
    id: str
    source: str
    published: datetime
    link: str
    title: str
    summary: str
    story: str | None = None  # the editorial label; None in unlabelled files


@dataclass(frozen=True, slots=True)
class PairwiseScore:
    precision: float
    recall: float
    f1: float
    true_pairs: int  # pairs the labels put together
    predicted_pairs: int  # pairs the clustering puts together
    correct_pairs: int
    wrong_merges: tuple[tuple[str, str], ...] = field(default=())  # together, labels apart
    missed: tuple[tuple[str, str], ...] = field(default=())  # labels together, apart here


def _parse_time(text: str) -> datetime:
    when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def read_items(path: Path) -> list[LabelledItem]:
    """Items of a labels CSV; the `story` column is optional."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [
        LabelledItem(
            id=row["id"],
            source=row.get("source") or "",
            published=_parse_time(row["published"]),
            link=row.get("link") or "",
            title=row.get("title") or "",
            summary=row.get("summary") or "",
            story=(row.get("story") or None),
        )
        for row in rows
    ]


def cluster_items(
    items: Iterable[LabelledItem], settings: ClusterSettings | None = None
) -> dict[str, int]:
    """Cluster items in publication order as the pipeline would: item id → story id."""
    settings = settings or ClusterSettings()
    index = MemoryStoryIndex(retention=timedelta(hours=settings.window_hours))
    clusterer = Clusterer(index, settings)
    ordered = sorted(items, key=lambda it: (it.published, it.id))
    return {
        it.id: clusterer.assign(it.id, it.link, it.title, it.summary, it.published).story_id or 0
        for it in ordered
    }


def _pairs(groups: Mapping[str, object]) -> set[tuple[str, str]]:
    members: dict[object, list[str]] = defaultdict(list)
    for item_id, group in groups.items():
        members[group].append(item_id)
    return {pair for ids in members.values() for pair in itertools.combinations(sorted(ids), 2)}


def pairwise(labels: Mapping[str, str], clusters: Mapping[str, int]) -> PairwiseScore:
    """Pairwise precision, recall and F1 of `clusters` against `labels` (item id → story).

    With no predicted pairs precision is 1 (nothing wrongly merged); with no true pairs
    recall is 1 (nothing to find).
    """
    ids = set(labels) & set(clusters)
    truth = _pairs({i: labels[i] for i in ids})
    predicted = _pairs({i: clusters[i] for i in ids})
    correct = truth & predicted
    precision = len(correct) / len(predicted) if predicted else 1.0
    recall = len(correct) / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairwiseScore(
        precision=precision,
        recall=recall,
        f1=f1,
        true_pairs=len(truth),
        predicted_pairs=len(predicted),
        correct_pairs=len(correct),
        wrong_merges=tuple(sorted(predicted - truth)),
        missed=tuple(sorted(truth - predicted)),
    )


def labels_of(items: Sequence[LabelledItem]) -> dict[str, str] | None:
    """item id → story label, or None when the file is unlabelled."""
    if not items or any(it.story is None for it in items):
        return None
    return {it.id: it.story for it in items if it.story is not None}
