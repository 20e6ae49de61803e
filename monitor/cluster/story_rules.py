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
  place at the finest level both name, or words in common. A closure is between the two
  states too when neither report names a place finer than the border (the crossings as a
  whole);
* same round: a report about talks (in its headline or lead) hosted by the same country
  (venue or mediator) as a story of talks begun within `round_span_hours` is that round or
  what came of it ("Kabul told to take 'verifiable' action" the morning after
  "Qatar-mediated talks"); a ceasefire or a clash agreed or fought meanwhile is its own
  event;
* same figures: reports, not statements, giving one casualty count of one kind (at least
  `figure_min`) within `figure_hours` of each other report one incident ("25 terrorists
  killed in infiltration bids" / "Security forces kill 25 terrorists in KP operations").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from monitor.cluster.event import AFGHAN_SIDE, MIN_HEADLINE_WORDS
from monitor.cluster.fingerprint import DISTINCTIVE, Fingerprint
from monitor.cluster.gazetteer import compatible
from monitor.cluster.identity import conflict
from monitor.cluster.weights import weight

if TYPE_CHECKING:
    from monitor.cluster.decide import Candidate, ClusterSettings, Neighbour

__all__ = [
    "STATE_KINDS",
    "same_event",
    "same_figures",
    "same_round",
    "story_containment",
    "vetoes",
]

# Events between the two states' forces: the sides are the identity (with the time).
STATE_KINDS = frozenset({"clash", "strike", "ceasefire"})


_CAUSE_WORDS = 2  # distinctive words of a report found in another's cause: it is that cause


def _follows(a: Fingerprint, b: Fingerprint) -> bool:
    """Whether `a` reports what came after `b`: `b`'s distinctive headline words are in
    what `a` says came first, and no word of `b`'s headline in `a`'s own news."""
    if not a.identity.cause or not a.identity.head.isdisjoint(b.title_words):
        return False
    words = [w for w in b.title_words if weight(w) >= DISTINCTIVE]
    return sum(w in a.identity.cause for w in words) >= _CAUSE_WORDS


def _consequence(a: Fingerprint, b: Fingerprint) -> str | None:
    """Why two reports are an event and what came of it, or None ("Zimbabwe roped in after
    Afghanistan pulls out of series" is news of its own, not the withdrawal)."""
    if _follows(a, b) or _follows(b, a):
        return "what came after another report's event"
    return None


def vetoes(
    candidate: Candidate,
    neighbours: Sequence[Neighbour],
    gaps: Sequence[float],
    window: float,
    occasion: float = 1.0,
) -> dict[int, str]:
    """Stories one of whose reports within `window` hours the candidate contradicts, with
    why. A story is one event: a report that contradicts any of it is another event. A
    report naming a round of talks does not join a story of talks reported more than
    `occasion` hours before that never names that round."""
    fp = candidate.fingerprint
    out: dict[int, str] = {}
    numbered = fp.identity.numbered
    named_round: set[int] = set()  # stories one of whose reports names the candidate's round
    talks_before: set[int] = set()  # stories with talks of an earlier hour, round unnamed
    for gap, n in zip(gaps, neighbours, strict=True):
        if gap > window or n.story_id in out:
            continue
        nfp = n.fingerprint
        why = conflict(fp.event, fp.identity, nfp.event, nfp.identity) or _consequence(fp, nfp)
        if why is not None:
            out[n.story_id] = why
        elif numbered:
            if nfp.identity.numbered & numbered:
                named_round.add(n.story_id)
            elif nfp.event is not None and nfp.event.kind == "talks" and gap > occasion:
                talks_before.add(n.story_id)
    # A report naming its round ("third round underway") opens that round: talks reported
    # hours before without a number were an earlier round, unless the story names this one.
    for story_id in talks_before - named_round - out.keys():
        out[story_id] = "a new round of talks"
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


def _story_ages(candidate: Candidate, neighbours: Sequence[Neighbour]) -> dict[int, float]:
    """Hours from each neighbouring story's earliest report (that the neighbours show) to
    the candidate: how long ago the story began."""
    ages: dict[int, float] = {}
    for n in neighbours:
        hours = (candidate.published - n.published).total_seconds() / 3600.0
        ages[n.story_id] = max(ages.get(n.story_id, hours), hours)
    return ages


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
    if ev.kind == "closure" and ev.afghan and nev.afghan and not a and not b:
        return "closure of the border crossings"
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
    ages = _story_ages(candidate, neighbours)
    best: tuple[float, int, str] | None = None
    for story_id in sorted(by_story):
        items = by_story[story_id]
        if ages[story_id] > max_span:
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
                    f"story begun {abs(ages[story_id]):.0f}h before",
                )
    return None if best is None else (best[1], best[2])


def same_round(
    candidate: Candidate,
    neighbours: Sequence[Neighbour],
    gaps: Sequence[float],
    settings: ClusterSettings,
    barred: dict[int, str],
) -> tuple[int, str] | None:
    """The story of the round of talks, or of the ceasefire agreed at one, the candidate
    reports on, or None. A round or an agreement is its host (venue or mediator) and its
    dates: a story with a report of the same kind (talks; a ceasefire for a ceasefire) whose
    headline names a host the candidate names in headline or lead, begun within
    `round_span_hours`. The nearest such report in time wins (then the lower story id).

    A report typed as talks joins by place (`same_event`); what else joins a round is a
    report whose headline types no event of its own, or an unattributed demand ("Kabul
    told to act"), naming the other side, with the talks in its lead. A clash, a closure or
    a named speaker's statement is news of its own, however much it speaks of the round."""
    fp = candidate.fingerprint
    ident = fp.identity
    ev = fp.event
    if not ident.hosts:
        return None
    if ev is not None and ev.kind == "ceasefire":
        kind = "ceasefire"  # "Turkiye, Qatar help seal truce" a day after "ceasefire agreed"
    elif ev is not None and (ev.kind != "statement" or ev.speakers):
        return None
    elif len(fp.title_tokens) < MIN_HEADLINE_WORDS or AFGHAN_SIDE.isdisjoint(fp.title_tokens):
        # A report of the round names the other side ("Kabul told to act"); a title that
        # does not ("Another Doha pact") is comment on it, and opinion stays alone.
        return None
    else:
        kind = "talks"
    first = _story_ages(candidate, neighbours)
    best: tuple[float, int, str] | None = None
    for gap, n in zip(gaps, neighbours, strict=True):
        nfp = n.fingerprint
        if n.story_id in barred or nfp.event is None or nfp.event.kind != kind:
            continue
        if not nfp.identity.host_in_title or first[n.story_id] > settings.round_span_hours:
            continue  # the round is the one a headline names, not one a lead mentions
        hosts = ident.hosts & nfp.identity.hosts
        if hosts and (best is None or (gap, n.story_id) < best[:2]):
            what = "round of talks" if kind == "talks" else "ceasefire"
            best = (
                gap,
                n.story_id,
                f"same {what} (hosted by {', '.join(sorted(hosts))}) as a report "
                f"{gap:.0f}h apart, begun {first[n.story_id]:.0f}h before",
            )
    return None if best is None else (best[1], best[2])


def same_figures(
    candidate: Candidate,
    neighbours: Sequence[Neighbour],
    gaps: Sequence[float],
    settings: ClusterSettings,
    barred: dict[int, str],
) -> tuple[int, str] | None:
    """The story of a report giving the candidate's casualty count (same kind, same figure,
    at least `figure_min`) within `figure_hours`, or None; neither may be a statement (a
    reaction cites the toll of the attack it reacts to). The nearest report wins."""
    fp = candidate.fingerprint
    figures = {f for f in fp.identity.figures if f[1] >= settings.figure_min}
    if not figures or (fp.event is not None and fp.event.kind == "statement"):
        return None
    best: tuple[float, int, str] | None = None
    for gap, n in zip(gaps, neighbours, strict=True):
        nfp = n.fingerprint
        if gap > settings.figure_hours or n.story_id in barred:
            continue
        if nfp.event is not None and nfp.event.kind == "statement":
            continue
        same = figures.intersection(nfp.identity.figures)
        if same and (best is None or (gap, n.story_id) < best[:2]):
            kind, value = min(same)
            best = (gap, n.story_id, f"same toll ({value} {kind}) as a report {gap:.1f}h apart")
    return None if best is None else (best[1], best[2])
