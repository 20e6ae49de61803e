"""Scoring a story clustering against editorial labels: pairwise precision and recall.

Owns `LabelledItem`, `LabelsError`, `read_items` (the labels CSV: id, source, published,
link, title, summary and, when labelled, story; bad input is refused with its file, line
and column), `cluster_items` (clusters as the pipeline would: in order of publication, no
database, a `MemoryStoryIndex`), `pairwise` (which pairs of items a clustering puts
together versus the labels) and `pooled` (several files' scores as one). Pure apart from
reading the CSV.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.cluster.decide import ClusterSettings
from monitor.cluster.index import Clusterer, MemoryStoryIndex
from monitor.errors import LabelsError
from monitor.labels import records

__all__ = [
    "LabelledItem",
    "LabelsError",
    "PairwiseScore",
    "cluster_items",
    "labels_of",
    "pairwise",
    "pooled",
    "read_items",
]

REQUIRED = ("id", "published", "title")  # without these an item cannot be placed


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
    """Items of a labels CSV; the `story` column is optional, but when present every row
    needs a value. Raises `LabelsError` for what `monitor.labels` checks, an empty title or
    story, or a time that is not ISO 8601."""
    items: list[LabelledItem] = []
    with path.open(newline="", encoding="utf-8") as fh:
        for record in records(fh, path, REQUIRED):
            published = record.need("published")
            try:
                when = _parse_time(published)
            except ValueError:
                raise record.error(
                    "published",
                    f"bad published time {published!r}: expected ISO 8601, "
                    "like 2025-10-12T05:44:00+00:00",
                ) from None
            items.append(
                LabelledItem(
                    id=record.need("id"),
                    source=record.get("source"),
                    published=when,
                    link=record.get("link"),
                    title=record.need("title"),
                    summary=record.get("summary"),
                    story=record.need("story") if record.has("story") else None,
                )
            )
    return items


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
    return _score(
        len(truth),
        len(predicted),
        len(truth & predicted),
        tuple(sorted(predicted - truth)),
        tuple(sorted(truth - predicted)),
    )


def _score(
    true: int,
    predicted: int,
    correct: int,
    wrong: tuple[tuple[str, str], ...],
    missed: tuple[tuple[str, str], ...],
) -> PairwiseScore:
    precision = correct / predicted if predicted else 1.0
    recall = correct / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairwiseScore(precision, recall, f1, true, predicted, correct, wrong, missed)


def labels_of(items: Sequence[LabelledItem]) -> dict[str, str] | None:
    """item id → story label, or None when the file is unlabelled."""
    if not items or any(it.story is None for it in items):
        return None
    return {it.id: it.story for it in items if it.story is not None}


def pooled(scores: Sequence[PairwiseScore]) -> PairwiseScore:
    """Several files' scores as one: pairs never cross files, so counts add up."""
    return _score(
        sum(s.true_pairs for s in scores),
        sum(s.predicted_pairs for s in scores),
        sum(s.correct_pairs for s in scores),
        tuple(p for s in scores for p in s.wrong_merges),
        tuple(p for s in scores for p in s.missed),
    )
