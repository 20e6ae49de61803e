"""Measuring rules against labelled items: precision, recall and F1, overall and per topic.

This module owns the definition of the figures `monitor rules eval` prints. An item is
predicted relevant when at least one rule fires (every severity puts it in a digest); its
predicted topic is that of the first rule that fires, in rules-file order. Pure: it takes
already-read rows and a matcher.
"""

from __future__ import annotations

import csv
import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from monitor.match.matcher import Matcher
from monitor.models import Match
from monitor.script import item_language


@dataclass(frozen=True, slots=True)
class LabelledItem:
    """One row of a label file; `relevant` is None in files without labels."""

    id: str
    source: str
    title: str
    summary: str
    relevant: bool | None = None
    topic: str = ""
    language: str = ""


@dataclass(frozen=True, slots=True)
class Scores:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
        }


@dataclass(frozen=True, slots=True)
class Report:
    """Predictions for every item and, when the file is labelled, the figures."""

    predictions: Mapping[str, bool]
    topics: Mapping[str, str]  # item id -> predicted topic ("" when no rule fired)
    rules_fired: Mapping[str, tuple[str, ...]]
    overall: Scores | None
    per_topic: Mapping[str, Scores]
    misses: tuple[LabelledItem, ...]
    false_alarms: tuple[LabelledItem, ...]

    @property
    def predicted_relevant(self) -> int:
        return sum(self.predictions.values())


def read_labels(lines: Iterable[str]) -> list[LabelledItem]:
    """Rows of a label CSV (id, source, published, link, title, summary[, relevant, topic,
    language]).

    Titles and summaries are recorded as the feeds sent them; HTML entities are decoded here
    as the pipeline's normaliser does before matching.
    """
    items = []
    for row in csv.DictReader(lines):
        raw = (row.get("relevant") or "").strip()
        title = html.unescape(row.get("title") or "")
        summary = html.unescape(row.get("summary") or "")
        items.append(
            LabelledItem(
                id=row["id"],
                source=row.get("source") or "",
                title=title,
                summary=summary,
                relevant=None if raw == "" else raw == "1",
                topic=(row.get("topic") or "").strip(),
                # As the pipeline decides it: the feed's language (a `language` column, when
                # the file has one) unless the text is clearly in another script.
                language=item_language(row.get("language") or "", title, summary),
            )
        )
    return items


def evaluate(matcher: Matcher, items: Iterable[LabelledItem]) -> Report:
    """Run every item through the matcher and score the predictions against the labels."""
    items = list(items)
    predictions: dict[str, bool] = {}
    topics: dict[str, str] = {}
    fired: dict[str, tuple[str, ...]] = {}
    for item in items:
        matches: list[Match] = matcher.match(item)
        predictions[item.id] = bool(matches)
        topics[item.id] = matches[0].topic if matches else ""
        fired[item.id] = tuple(m.rule_id for m in matches)
    labelled = [i for i in items if i.relevant is not None]
    if not labelled:
        return Report(predictions, topics, fired, None, {}, (), ())
    misses = tuple(i for i in labelled if i.relevant and not predictions[i.id])
    false_alarms = tuple(i for i in labelled if not i.relevant and predictions[i.id])
    tp = sum(1 for i in labelled if i.relevant and predictions[i.id])
    overall = Scores(tp, len(false_alarms), len(misses))
    names = sorted({i.topic for i in labelled if i.topic} | {t for t in topics.values() if t})
    per_topic = {}
    for name in names:
        truth = {i.id for i in labelled if i.relevant and i.topic == name}
        predicted = {i.id for i in labelled if topics[i.id] == name}
        per_topic[name] = Scores(
            len(truth & predicted), len(predicted - truth), len(truth - predicted)
        )
    return Report(predictions, topics, fired, overall, per_topic, misses, false_alarms)


def report_json(report: Report) -> dict[str, object]:
    """The report as one JSON-ready object (`rules eval --json`)."""
    out: dict[str, object] = {
        "items": len(report.predictions),
        "predicted_relevant": report.predicted_relevant,
        "predictions": dict(report.predictions),
        "topics": {k: v for k, v in report.topics.items() if v},
    }
    if report.overall is not None:
        out["overall"] = report.overall.as_dict()
        out["per_topic"] = {name: s.as_dict() for name, s in report.per_topic.items()}
        out["misses"] = [i.id for i in report.misses]
        out["false_alarms"] = [i.id for i in report.false_alarms]
    return out
