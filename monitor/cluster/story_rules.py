"""The rules that look at a story's reports together, when no single report is close.

Owns `vetoes`, `story_containment` and `same_event`, which `decide` calls. Pure. Both rules
join on positive evidence only, and never a story one of whose reports the candidate
contradicts (`vetoes`: another place, speaker, toll or round; see `cluster.identity`):

* containment: the story's recent reports together use most of the candidate's
  distinctive headline words (follow-ups reuse words spread over several reports);
* same event: a report of the same kind close in time, *and* evidence that it is the same
  occurrence, not another of its kind. Between the two states' forces (a clash, a strike,
  a ceasefire) the actors are that evidence: both sides fight one border war at a time.
  A statement needs the same speaker on the same occasion: within `occasion_hours`, or
  with words in common. Other kinds (talks, closures, militant attacks) need the same
  place at the finest level both name, or words in common.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from monitor.cluster.fingerprint import DISTINCTIVE, Fingerprint
from monitor.cluster.gazetteer import compatible
from monitor.cluster.identity import conflict
from monitor.cluster.weights import weight

if TYPE_CHECKING:
    from monitor.cluster.decide import Candidate, ClusterSettings, Neighbour

__all__ = ["STATE_KINDS", "same_event", "story_containment", "vetoes"]

# Events between the two states' forces: the sides are the identity (with the time).
STATE_KINDS = frozenset({"clash", "strike", "ceasefire"})


def vetoes(
    candidate: Candidate, neighbours: Sequence[Neighbour], gaps: Sequence[float], window: float
) -> dict[int, str]:
    """Stories one of whose reports within `window` hours the candidate contradicts, with
    why. A story is one event: a report that contradicts any of it is another event."""
    fp = candidate.fingerprint
    out: dict[int, str] = {}
    for gap, n in zip(gaps, neighbours, strict=True):
        if gap > window or n.story_id in out:
            continue
        nfp = n.fingerprint
        why = conflict(fp.event, fp.identity, nfp.event, nfp.identity)
        if why is not None:
            out[n.story_id] = why
    return out


def story_containment(
    candidate: Candidate,
    neighbours: Sequence[Neighbour],
    gaps: Sequence[float],
    settings: ClusterSettings,
    barred: dict[int, str],
) -> tuple[float, int, str] | None:
    """A story whose recent items, together, use most of the candidate's headline words.

    Follow-ups of a developing story reuse words spread over several earlier reports;
    no single one of them may be close. Only distinctive words count, at least
    `story_min_words` of them, and only items within `grace_hours`.
    """
    words = [
        t for t in dict.fromkeys(candidate.fingerprint.title_tokens) if weight(t) >= DISTINCTIVE
    ]
    if len(words) < settings.story_min_words:
        return None
    wanted = frozenset(words)
    vocab: dict[int, set[str]] = {}  # of each story, the headline words its reports use
    kinds: dict[int, set[str]] = {}
    for gap, n in zip(gaps, neighbours, strict=True):
        if gap > settings.grace_hours or n.story_id in barred:
            continue
        nfp = n.fingerprint
        used = wanted.intersection(nfp.text_words)
        if used:  # a story none of whose reports shares a word cannot win: left out
            known = vocab.get(n.story_id)
            if known is None:
                vocab[n.story_id] = set(used)
            else:
                known |= used
        if nfp.event is not None:
            kinds.setdefault(n.story_id, set()).add(nfp.event.kind)
    ev = candidate.fingerprint.event
    best: tuple[float, int, str] | None = None
    for story_id in sorted(vocab):
        if settings.events and ev is not None and ev.kind not in kinds.get(story_id, {ev.kind}):
            # Words spread over a story's reports are weak evidence: they never join a
            # report of another kind of event (a statement or talks after a clash).
            continue
        shared = [w for w in words if w in vocab[story_id]]
        share = len(shared) / len(words)
        if (
            len(shared) >= settings.story_min_words
            and share >= settings.story_containment
            and (best is None or share > best[0])
        ):
            best = (
                share,
                story_id,
                f"{len(shared)} of {len(words)} headline words "
                f"({', '.join(shared)}) in the story's reports within "
                f"{settings.grace_hours:g}h",
            )
    return best


def _hours(a: Candidate, first: Neighbour) -> float:
    return abs((a.published - first.published).total_seconds()) / 3600.0


def _evidence(
    fp: Fingerprint,
    nfp: Fingerprint,
    gap: float,
    settings: ClusterSettings,
    similar: Callable[[Fingerprint], float],
) -> str | None:
    """What says the candidate and a report of the same kind are one occurrence, or None."""
    ev, nev = fp.event, nfp.event
    assert ev is not None and nev is not None  # the caller compares reports of one kind
    if ev.kind == "statement":
        shared = ev.speakers & nev.speakers
        if not shared:
            return None
        who = ", ".join(sorted(shared))
        if gap <= settings.occasion_hours:
            return f"statement by {who} on one occasion"
        if similar(nfp) >= settings.event_evidence:
            return f"statement by {who}, in like words"
        return None
    if ev.kind in STATE_KINDS and ev.afghan and nev.afghan:
        return f"{ev.kind} between the two sides"
    a, b = fp.identity.places, nfp.identity.places
    if a and b and compatible(a, b):
        return f"{ev.kind} at {', '.join(sorted(a & b or a | b))}"
    if similar(nfp) >= settings.event_evidence:
        return f"{ev.kind}, in like words"
    return None


def same_event(
    candidate: Candidate,
    neighbours: Sequence[Neighbour],
    gaps: Sequence[float],
    settings: ClusterSettings,
    barred: dict[int, str],
    similar: Callable[[Fingerprint], float],
) -> tuple[int, str] | None:
    """The story reporting the same event as the candidate: (story id, reason) or None.

    Same event kind and a report of that kind within the gap (statements: a shorter one),
    the story begun within the span, none of its reports contradicted (`barred`), and
    evidence of one occurrence (see the module docstring). Among several stories the one
    with the report nearest in time wins (then the lower id). `similar` scores the
    candidate's words against a neighbour's (decide's similarity).
    """
    fp = candidate.fingerprint
    ev = fp.event
    if ev is None:
        return None
    statement = ev.kind == "statement"
    if statement and not ev.speakers:
        return None
    max_gap = settings.statement_gap_hours if statement else settings.event_gap_hours
    max_span = settings.statement_span_hours if statement else settings.event_span_hours
    by_story: dict[int, list[tuple[float, Neighbour]]] = {}
    for gap, n in zip(gaps, neighbours, strict=True):
        if n.story_id not in barred:
            by_story.setdefault(n.story_id, []).append((gap, n))
    best: tuple[float, int, str] | None = None
    for story_id in sorted(by_story):
        items = by_story[story_id]
        first = min((n for _, n in items), key=lambda n: n.published)
        if (candidate.published - first.published).total_seconds() / 3600.0 > max_span:
            continue
        for gap, n in items:
            nev = n.fingerprint.event
            if nev is None or nev.kind != ev.kind or gap > max_gap:
                continue
            if best is not None and (gap, story_id) >= best[:2]:
                continue
            why = _evidence(fp, n.fingerprint, gap, settings, similar)
            if why is not None:
                best = (
                    gap,
                    story_id,
                    f"same event ({why}) as a report {gap:.0f}h apart, "
                    f"story begun {_hours(candidate, first):.0f}h before",
                )
    return None if best is None else (best[1], best[2])
