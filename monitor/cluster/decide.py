"""The clustering decision: does a new item join an existing story, and why.

Owns `ClusterSettings`, `Candidate`, `Neighbour`, `Decision`, `similarity` and `decide`.
Pure: no I/O, no clock, no index. The editorial rule is strict (one story = one event:
the same attack, statement, meeting or decision, reported within a day or two), so the
rule leans to precision: a wrong merge hides a distinct event from the analyst, a missed
merge only shows one event twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from monitor.canonical import article_id
from monitor.cluster.fingerprint import Fingerprint
from monitor.cluster.story_rules import (
    same_event,
    same_figures,
    same_round,
    story_containment,
    vetoes,
)
from monitor.cluster.weights import total

__all__ = [
    "Candidate",
    "ClusterSettings",
    "Decision",
    "Neighbour",
    "decide",
    "similarity",
]


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """Thresholds of the story rule; exposed to operators under `[stories]` in config."""

    window_hours: float = 72.0  # beyond this gap two items are never one story
    near_threshold: float = 0.40  # similarity for reworded copies published close together
    grace_hours: float = 12.0  # gap within which near_threshold applies unchanged
    decay_per_day: float = 0.20  # threshold rise per day of gap beyond grace_hours
    # Same outlet article id under a new headline: off (None) by default, because live
    # pages get re-headlined for the next event (strikes → ceasefire) and precision wins.
    same_article_threshold: float | None = None
    # Headlines that carry figures and share none (other than casualty counts, which
    # cluster.identity compares) are discounted: same words, perhaps another incident.
    number_conflict_factor: float = 0.8
    story_containment: float = 0.6  # share of headline words found across a story's items
    story_min_words: int = 3
    updates: bool = False  # flag later reports that add facts (see cluster.updates)
    # The event rule (cluster.event): same kind of event between the same sides (or the
    # same speaker's statement), close in time to a report of the story, and not too long
    # after the story began. Off when `events` is False.
    events: bool = True
    event_gap_hours: float = 10.0  # to the nearest report of the story of the same kind
    event_span_hours: float = 28.0  # from the story's first report
    statement_gap_hours: float = 14.0
    statement_span_hours: float = 16.0
    # Positive evidence the event rule needs beyond kind and time: statements of one
    # speaker within `occasion_hours` of a report of the story are one occasion (a press
    # conference written up by several outlets); otherwise, and for kinds that are not
    # between the two states' forces, a shared place or this much word similarity.
    occasion_hours: float = 2.0
    event_evidence: float = 0.2
    # A round of talks (its host and dates): reports about talks of the same host join a
    # story of talks begun within this span (story_rules.same_round).
    round_span_hours: float = 30.0
    # One casualty count of one kind, at least `figure_min`, within `figure_hours`: one
    # incident (story_rules.same_figures).
    figure_hours: float = 3.0
    figure_min: int = 3


@dataclass(frozen=True, slots=True)
class Candidate:
    """The item being placed."""

    canonical_url: str
    fingerprint: Fingerprint
    published: datetime  # UTC


@dataclass(frozen=True, slots=True)
class Neighbour:
    """An item already in a story, as the index returns it."""

    story_id: int
    canonical_url: str
    fingerprint: Fingerprint
    published: datetime  # UTC
    item_key: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    """Join `story_id`, or start a new story when it is None; `reason` is for people."""

    story_id: int | None
    reason: str
    score: float
    new: bool = False  # set by Clusterer when it allocated `story_id` for this item
    update: str | None = None  # what this item adds to its story (settings.updates)


def _weighted_jaccard(
    a: frozenset[str], b: tuple[str, ...], total_a: float, total_b: float
) -> float:
    """Jaccard of the words `a` and the distinct words `b`, each word weighing its corpus
    weight (`cluster.weights`): sharing "Pakistan" says little, sharing "Ghulam Khan" much.
    The sides' totals come with their fingerprints; only the shared words are summed here
    (this runs once per candidate pair)."""
    shared = a.intersection(b)
    if not shared:
        return 0.0
    inter = total(shared)
    union = total_a + total_b - inter
    return inter / union if union > 0 else 0.0


class _Sets(NamedTuple):
    """A fingerprint's words as sets, made once for the candidate compared with many."""

    title: frozenset[str]
    text: frozenset[str]


def _sets(fp: Fingerprint) -> _Sets:
    return _Sets(frozenset(fp.title_words), frozenset(fp.text_words))


def _scores(
    a_sets: _Sets, a: Fingerprint, b: Fingerprint, settings: ClusterSettings
) -> tuple[float, ...]:
    """(score, title similarity, text similarity, number conflict) of `a` (whose words
    `a_sets` are) and `b`."""
    title = _weighted_jaccard(a_sets.title, b.title_words, a.title_weight, b.title_weight)
    text = _weighted_jaccard(a_sets.text, b.text_words, a.text_weight, b.text_weight)
    score = max(title, (title + text) / 2)
    numbers = bool(a.title_numbers and b.title_numbers and not a.title_numbers & b.title_numbers)
    if numbers:
        score *= settings.number_conflict_factor
    return score, title, text, numbers


def similarity(a: Fingerprint, b: Fingerprint, settings: ClusterSettings) -> tuple[float, str]:
    """Similarity in [0, 1] of two fingerprints, and what drove it, in words.

    The title carries the event; the lead confirms it. The score is the larger of the
    title similarity and the mean of title and title+lead similarity, so a shared lead
    cannot join two items whose headlines report different things. Titles that carry
    figures and share none are discounted: same words, perhaps another incident.
    """
    return _described(_sets(a), a, b, settings)


def _described(
    a_sets: _Sets, a: Fingerprint, b: Fingerprint, settings: ClusterSettings
) -> tuple[float, str]:
    score, title, text, numbers = _scores(a_sets, a, b, settings)
    what = f"title similarity {title:.2f}, text {text:.2f}"
    if numbers:
        what += "; different figures"
    return score, what


TIED = 2  # how tied to the candidate a neighbour must be to be scored alone (index.tie)


def _neighbour_order(n: Neighbour) -> tuple[int, datetime, str]:
    """Neighbours by story, then time: the order (which copy or equal score wins) does not
    depend on the order the index found them in."""
    return n.story_id, n.published, n.item_key


def _threshold(gap_hours: float, settings: ClusterSettings) -> float:
    late = max(0.0, gap_hours - settings.grace_hours)
    return settings.near_threshold + settings.decay_per_day * late / 24.0


def decide(
    candidate: Candidate,
    neighbours: Sequence[Neighbour],
    settings: ClusterSettings,
    shared: Mapping[str, int] | None = None,
) -> Decision:
    """Place `candidate`: the story of its best-matching neighbour, or a new story.

    Exact duplicates (same canonical URL; same normalised title and lead) join at once.
    Otherwise each neighbour within the window scores its similarity against a threshold
    that rises with the time gap; the story whose neighbour clears it by the widest margin
    wins. Ties go to the lower story id, so the outcome does not depend on index order.

    `shared` says, by item key, how much the index keys a neighbour was found under tie it
    to the candidate (`monitor.cluster.index.tie`). A neighbour found under one weak key
    only (one LSH band, an event kind or a speaker) is not scored pair by pair: that is
    what unrelated reports of a busy day have in common, it is most neighbours, and it
    changed no decision on the recorded feeds or the labelled stories. Such a neighbour
    still counts for the story rule and the event rule below, which look at a story's
    reports together.
    """
    fp = candidate.fingerprint
    sets = _sets(fp)
    cand_article = article_id(candidate.canonical_url) if candidate.canonical_url else None
    url = candidate.canonical_url
    exact = fp.exact_key if fp.title_tokens or fp.lead_tokens else None
    # Hours between the candidate and each neighbour, worked out once for the three rules.
    when = candidate.published
    gaps = [abs((when - n.published).total_seconds()) / 3600.0 for n in neighbours]
    # One look at every neighbour picks the copies (same canonical URL or text) and those
    # worth scoring; only those few are put in order (see _neighbour_order).
    copy: Neighbour | None = None
    scored: list[tuple[float, Neighbour, bool]] = []
    for gap, n in zip(gaps, neighbours, strict=True):
        if gap > settings.window_hours:
            continue
        if (url and url == n.canonical_url) or exact == n.fingerprint.exact_key:
            if copy is None or _neighbour_order(n) < _neighbour_order(copy):
                copy = n
            continue
        if copy is not None:
            continue  # a copy decides: the rest need no score
        same_article = settings.same_article_threshold is not None and (
            cand_article is not None and cand_article == article_id(n.canonical_url)
        )
        if not same_article and shared is not None and shared.get(n.item_key, TIED) < TIED:
            continue  # found under one weak key only: see the docstring
        scored.append((gap, n, same_article))
    if copy is not None:
        if url and url == copy.canonical_url:
            return Decision(copy.story_id, "same canonical URL", 1.0)
        return Decision(
            copy.story_id, f"same title and lead within {settings.window_hours:g}h", 1.0
        )
    # Only positive evidence joins: a story one of whose reports names another place,
    # speaker, toll or round is another event, however alike the words (cluster.identity).
    barred = vetoes(candidate, neighbours, gaps, settings.window_hours, settings.occasion_hours)
    best: tuple[float, int, float, str] | None = None  # (margin, -story, score, reason)
    for gap, n, same_article in sorted(scored, key=lambda s: _neighbour_order(s[1])):
        if n.story_id in barred:
            continue
        threshold = _threshold(gap, settings)
        if same_article and settings.same_article_threshold is not None:
            # A developing story re-headlined under the same article id: the id says
            # "same page", the words must still say "same event" (live pages change topic).
            threshold = min(threshold, settings.same_article_threshold)
        score = _scores(sets, fp, n.fingerprint, settings)[0]
        margin = score - threshold
        if margin >= 0 and (best is None or (margin, -n.story_id) > best[:2]):
            # The reason in words only for a new best: most pairs compared never join.
            _, what = _described(sets, fp, n.fingerprint, settings)
            rule = (
                f"≥ {threshold:.2f}, same article {cand_article} re-headlined"
                if same_article
                else f"≥ {threshold:.2f} within {gap:.0f}h"
            )
            best = (margin, -n.story_id, score, f"{what} {rule}")
    if best is None:  # no single report is close: try the story's reports together
        story_best = story_containment(candidate, neighbours, gaps, settings, barred)
        if story_best is not None:
            best = (0.0, -story_best[1], story_best[0], story_best[2])
    if best is None and settings.events:
        event_best = same_event(
            candidate,
            neighbours,
            gaps,
            settings,
            barred,
            lambda other: _scores(sets, fp, other, settings)[0],
        )
        if event_best is None:
            event_best = same_round(candidate, neighbours, gaps, settings, barred)
        if event_best is None:
            event_best = same_figures(candidate, neighbours, gaps, settings, barred)
        if event_best is not None:
            best = (0.0, -event_best[0], 0.0, event_best[1])
    if best is None:
        return Decision(None, "no story within the window is similar enough", 0.0)
    return Decision(-best[1], best[3], round(best[2], 4))
