"""The "update" rule: a later report of a story that adds a fact an analyst cares about.

Owns `StoryFacts`, `facts_of`, `merge_facts` and `is_update`. Two kinds of fact, kept
simple on purpose: casualty figures (a number next to killed/martyred/injured) and named
places from the gazetteer. A later item is an update when a figure rises ("killed 8" then
"killed 12") or it names a place the story has not named. Off unless
`ClusterSettings.updates` is set.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from monitor.cluster.fingerprint import Fingerprint
from monitor.cluster.identity import casualties

__all__ = ["StoryFacts", "facts_of", "is_update", "merge_facts"]


@dataclass(frozen=True, slots=True)
class StoryFacts:
    """What a story has reported so far: the highest figure per casualty kind, places."""

    casualties: tuple[tuple[str, int], ...] = ()  # sorted (kind, highest figure)
    places: frozenset[str] = frozenset()

    def figure(self, kind: str) -> int | None:
        return dict(self.casualties).get(kind)


def facts_of(fp: Fingerprint) -> StoryFacts:
    """The facts one item reports (title and lead)."""
    figures = casualties(fp.title_tokens)
    for kind, value in casualties(fp.lead_tokens).items():
        figures[kind] = max(figures.get(kind, 0), value)
    return StoryFacts(tuple(sorted(figures.items())), fp.places)


def merge_facts(facts: Iterable[StoryFacts]) -> StoryFacts:
    """The facts of a story from those of its items: highest figures, all places."""
    figures: dict[str, int] = {}
    places: set[str] = set()
    for f in facts:
        for kind, value in f.casualties:
            figures[kind] = max(figures.get(kind, 0), value)
        places |= f.places
    return StoryFacts(tuple(sorted(figures.items())), frozenset(places))


def is_update(story_facts: StoryFacts, new_item: Fingerprint) -> str | None:
    """A short reason when `new_item` adds to `story_facts`, else None.

    A figure counts only when the story already had one of that kind (a first figure
    is the story itself, not an update); a place counts only when the story named some
    place before (else every item naming its place would be "new").
    """
    item = facts_of(new_item)
    reasons: list[str] = []
    for kind, value in item.casualties:
        before = story_facts.figure(kind)
        if before is not None and value > before:
            label = "casualty figure" if kind == "killed" else f"{kind} figure"
            reasons.append(f"{label} rose from {before} to {value}")
    new_places = sorted(item.places - story_facts.places)
    if story_facts.places and new_places:
        reasons.append("new place: " + ", ".join(new_places))
    return "; ".join(reasons) or None
