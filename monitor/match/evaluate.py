"""Measuring rules against labelled items: precision, recall and F1, overall and per topic,
and for alerts.

This module owns the definition of the figures `monitor rules eval` prints. An item is
predicted relevant when at least one rule fires (every severity puts it in a digest); its
predicted topic is that of the first rule that fires, in rules-file order; it is predicted
an alert when a rule of severity "alert" fires. Alerts are scored where the file has an
`alert` column: an alert is a relevant item labelled `alert` 1. `read_labels` checks the
file and names the line and column of what is wrong; `evaluate` is pure.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from monitor.labels import Record, records
from monitor.match.matcher import Matcher
from monitor.models import Match
from monitor.script import item_language

REQUIRED_COLUMNS = ("id", "title")
TOPICS = frozenset({"border", "ttp_militancy", "diplomacy", "trade_transit", "refugees"})


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
    alert: bool | None = None  # None: the file has no alert column


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
    alerts: Mapping[str, bool] = field(default_factory=dict)  # item id -> predicted alert
    alert_scores: Scores | None = None  # where the file labels alerts
    missed_alerts: tuple[LabelledItem, ...] = ()
    false_alerts: tuple[LabelledItem, ...] = ()

    @property
    def predicted_relevant(self) -> int:
        return sum(self.predictions.values())


def read_labels(lines: Iterable[str], file: str = "<labels>") -> list[LabelledItem]:
    """Rows of a label CSV (id, source, published, link, title, summary[, relevant, topic,
    alert, language]), checked: a missing column, a label value other than 0, 1 or empty, an
    unknown topic or a repeated id raises `LabelsError` naming `file`, the line and the column.

    Titles and summaries are recorded as the feeds sent them; HTML entities are decoded here
    as the pipeline's normaliser does before matching.
    """
    items = []
    for record in records(lines, file, REQUIRED_COLUMNS):
        topic = record.get("topic").strip()
        if topic and topic not in TOPICS:
            known = ", ".join(sorted(TOPICS))
            raise record.error("topic", f"unknown topic {topic!r} (expected one of: {known})")
        relevant = _flag(record, "relevant")
        # An item labelled not relevant is not an alert, whatever the column says.
        alert = bool(relevant and _flag(record, "alert")) if record.has("alert") else None
        title = html.unescape(record.get("title"))
        summary = html.unescape(record.get("summary"))
        items.append(
            LabelledItem(
                id=record.need("id"),
                source=record.get("source"),
                title=title,
                summary=summary,
                relevant=relevant,
                topic=topic,
                alert=alert,
                # As the pipeline decides it: the feed's language (a `language` column, when
                # the file has one) unless the text is clearly in another script.
                language=item_language(record.get("language"), title, summary),
            )
        )
    return items


def _flag(record: Record, column: str) -> bool | None:
    raw = record.get(column).strip()
    if raw not in ("", "0", "1"):
        raise record.error(column, f"{column}: expected 0, 1 or empty, got {raw!r}")
    return None if raw == "" else raw == "1"


def evaluate(matcher: Matcher, items: Iterable[LabelledItem]) -> Report:
    """Run every item through the matcher and score the predictions against the labels."""
    items = list(items)
    predictions: dict[str, bool] = {}
    topics: dict[str, str] = {}
    fired: dict[str, tuple[str, ...]] = {}
    alerts: dict[str, bool] = {}
    for item in items:
        matches: list[Match] = matcher.match(item)
        predictions[item.id] = bool(matches)
        topics[item.id] = matches[0].topic if matches else ""
        fired[item.id] = tuple(m.rule_id for m in matches)
        alerts[item.id] = any(m.severity == "alert" for m in matches)
    labelled = [i for i in items if i.relevant is not None]
    if not labelled:
        return Report(predictions, topics, fired, None, {}, (), (), alerts)
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
    with_alerts = [i for i in labelled if i.alert is not None]
    alert_scores = None
    missed_alerts: tuple[LabelledItem, ...] = ()
    false_alerts: tuple[LabelledItem, ...] = ()
    if with_alerts:
        missed_alerts = tuple(i for i in with_alerts if i.alert and not alerts[i.id])
        false_alerts = tuple(i for i in with_alerts if not i.alert and alerts[i.id])
        hits = sum(1 for i in with_alerts if i.alert and alerts[i.id])
        alert_scores = Scores(hits, len(false_alerts), len(missed_alerts))
    return Report(
        predictions,
        topics,
        fired,
        overall,
        per_topic,
        misses,
        false_alarms,
        alerts,
        alert_scores,
        missed_alerts,
        false_alerts,
    )


def report_json(report: Report) -> dict[str, object]:
    """The report as one JSON-ready object (`rules eval --json`)."""
    out: dict[str, object] = {
        "items": len(report.predictions),
        "predicted_relevant": report.predicted_relevant,
        "predictions": dict(report.predictions),
        "alerts": dict(report.alerts),
        "topics": {k: v for k, v in report.topics.items() if v},
    }
    if report.overall is not None:
        out["overall"] = report.overall.as_dict()
        out["per_topic"] = {name: s.as_dict() for name, s in report.per_topic.items()}
        out["misses"] = [i.id for i in report.misses]
        out["false_alarms"] = [i.id for i in report.false_alarms]
    if report.alert_scores is not None:
        out["alert_scores"] = report.alert_scores.as_dict()
        out["missed_alerts"] = [i.id for i in report.missed_alerts]
        out["false_alerts"] = [i.id for i in report.false_alerts]
    return out
