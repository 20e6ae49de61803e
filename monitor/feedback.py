"""Analysts' feedback as label files: the rows `monitor feedback export` writes, decided
from the stored feedback and the reports it names (no I/O here).

- relevance.csv (the `rules eval` format): the reports of a story marked "not relevant"
  with relevant 0; an item marked "missed" with relevant 1 and the topic given, if any.
  A later mark of the same item wins (an analyst may change their mind).
- stories.csv (the `stories eval` format): the reports of every story a split was made
  in, each labelled with the story the analysts left it in; a split report is labelled
  with its own story, so the clusterer is scored on keeping it apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from monitor.store.feedback import MISSED, NOT_RELEVANT, SPLIT, FeedbackRow, LabelRow

RELEVANCE_COLUMNS = ("id", "source", "published", "link", "title", "summary", "relevant", "topic")
STORIES_COLUMNS = ("id", "source", "published", "link", "title", "summary", "story")


def wanted(feedback: Sequence[FeedbackRow]) -> tuple[list[int], list[int]]:
    """(item ids, story ids) whose reports the label files need."""
    items = [f.item_id for f in feedback if f.kind == MISSED and f.item_id is not None]
    stories: list[int] = []
    for f in feedback:
        if f.kind in (NOT_RELEVANT, SPLIT) and f.story_id is not None:
            stories.append(f.story_id)
        if f.kind == SPLIT and f.split_story_id is not None:
            stories.append(f.split_story_id)
    return sorted(set(items)), sorted(set(stories))


def _time(when: datetime | None) -> str:
    return when.isoformat() if when is not None else ""


def _base(r: LabelRow) -> list[str]:
    return [str(r.item_id), r.source, _time(r.published), r.link or "", r.title, r.summary]


def relevance_rows(feedback: Sequence[FeedbackRow], reports: Sequence[LabelRow]) -> list[list[str]]:
    by_item = {r.item_id: r for r in reports}
    by_story: dict[int, list[LabelRow]] = {}
    for r in reports:
        if r.story_id is not None:
            by_story.setdefault(r.story_id, []).append(r)
    # A report split out after its story was marked was in the story as marked.
    splits = [f for f in feedback if f.kind == SPLIT and f.item_id is not None]
    labels: dict[int, tuple[str, str]] = {}
    for f in sorted(feedback, key=lambda f: f.id):  # oldest first: the latest mark wins
        if f.kind == NOT_RELEVANT and f.story_id is not None:
            split_later = {s.item_id for s in splits if s.story_id == f.story_id and s.id > f.id}
            split_before = {s.item_id for s in splits if s.story_id == f.story_id and s.id < f.id}
            for r in by_story.get(f.story_id, []):
                if r.item_id not in split_before:
                    labels[r.item_id] = ("0", "")
            for item_id in split_later:
                if item_id in by_item:
                    labels[item_id] = ("0", "")
        elif f.kind == MISSED and f.item_id is not None and f.item_id in by_item:
            labels[f.item_id] = ("1", f.topic)
    return [[*_base(by_item[i]), *labels[i]] for i in sorted(labels)]


def stories_rows(feedback: Sequence[FeedbackRow], reports: Sequence[LabelRow]) -> list[list[str]]:
    split_in = {f.story_id for f in feedback if f.kind == SPLIT and f.story_id is not None}
    split_out = {f.split_story_id for f in feedback if f.kind == SPLIT}
    return [
        [*_base(r), f"story-{r.story_id}"]
        for r in reports
        if r.story_id is not None and (r.story_id in split_in or r.story_id in split_out)
    ]


def unexported(feedback: Sequence[FeedbackRow]) -> list[FeedbackRow]:
    """Missed items known by URL alone: not stored, so no text to label."""
    return [f for f in feedback if f.kind == MISSED and f.item_id is None]
