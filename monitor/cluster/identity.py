"""An event's identity beyond its kind: where, how many, which round; and when two differ.

Owns `Identity`, `identity_of`, `casualties` and `conflict`. Two reports are one event only
if nothing they state tells them apart. What tells events apart, as an editor reads a
headline:

* the place, at the finest level named (`cluster.gazetteer`): a clash in Kurram is not one
  at Chaman; "KP's Hangu" and "Hangu" are one place, and a crossing lies in both sides'
  districts;
* the speaker of a statement (`cluster.event`): the defence minister's remarks are not the
  prime minister's;
* the figures: a casualty count of one kind more than double another (and by more
  than two) are another incident (outlets round and revise a toll, but not that far);
* the round of talks or day of a meeting ("second round", "third day");
* for talks, who hosts them: the venue's country or the mediator ("in Doha", "Qatar-mediated
  talks" are one host), named in the headline or the lead. A round of talks is its host and
  its dates, and what came of it, reported the next morning in other words, belongs to it.

`conflict` is pure and symmetric apart from the order in time the figures need.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from monitor.cluster.event import Event
from monitor.cluster.gazetteer import compatible, finest, places_named
from monitor.cluster.text import extract_numbers, fold, tokens

__all__ = ["NO_IDENTITY", "Identity", "casualties", "conflict", "identity_of", "talks_hosts"]

_CASUALTY_WORDS: dict[str, str] = {
    **dict.fromkeys(tokens("killed"), "killed"),
    **dict.fromkeys(tokens("martyred"), "martyred"),
    **dict.fromkeys(tokens("injured"), "injured"),
}
_REACH = 3  # "23 troops martyred", "killed at least 8": the figure sits within 3 words
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "final": 99}
_ROUND = re.compile(
    r"\b(" + "|".join(_ORDINALS) + r"|\d+(?:st|nd|rd|th))\s+(?:round|day|session|phase)\b"
)
# Who hosts a round of talks: the country of its venue (cluster.gazetteer's venues) or of its
# mediator. General knowledge of where the two sides' talks meet, not tuning.
_VENUE_HOST = {
    "doha": "qatar",
    "istanbul": "turkiye",
    "ankara": "turkiye",
    "riyadh": "saudi",
    "tehran": "iran",
    "moscow": "russia",
    "beijing": "china",
    "urumqi": "china",
}
_MEDIATOR_HOST = {
    **dict.fromkeys(tokens("qatar qatari"), "qatar"),
    **dict.fromkeys(tokens("turkiye turkey turkish"), "turkiye"),
    **dict.fromkeys(tokens("saudi"), "saudi"),
    **dict.fromkeys(tokens("iran iranian"), "iran"),
    **dict.fromkeys(tokens("russia russian"), "russia"),
    **dict.fromkeys(tokens("china chinese"), "china"),
}
# Talks, and the truce they make: both are hosted somewhere.
_TALKS_WORDS = frozenset(tokens("talks negotiations mediation mediated round ceasefire truce"))
# What a headline reports as having come first: its news is the clause before.
_CAUSE = re.compile(r"\b(?:after|following|in the wake of)\b")
_NUMBERED = re.compile(r"\b(" + "|".join(_ORDINALS) + r"|\d+(?:st|nd|rd|th))\s+round\b")
# A count more than double another (and by more than a couple): two incidents.
_TOLL_RATIO = 2.0
_TOLL_SLACK = 2


@dataclass(frozen=True, slots=True)
class Identity:
    """What a headline says of its event besides the kind and speaker."""

    places: frozenset[str] = frozenset()  # finest gazetteer places named
    figures: tuple[tuple[str, int], ...] = ()  # sorted (casualty kind, figure)
    rounds: frozenset[int] = frozenset()  # ordinal of the round / day ("final" = 99)
    # Talks spoken of in the headline or lead, and who hosts them (venue or mediator).
    talks: bool = False
    hosts: frozenset[str] = frozenset()
    host_in_title: bool = False  # the headline itself names the venue or mediator
    numbered: frozenset[int] = frozenset()  # the round of talks numbered ("third round")
    # "Zimbabwe roped in after Afghanistan pulls out of series": the headline's own news
    # (`head`) and the earlier event it follows (`cause`), when it names one.
    head: frozenset[str] = frozenset()
    cause: frozenset[str] = frozenset()


NO_IDENTITY = Identity()  # a headline that states none


def casualties(toks: Sequence[str]) -> dict[str, int]:
    """Casualty figures among tokens: kind (killed, martyred, injured) → highest figure.

    Each figure belongs to the nearest casualty word within `_REACH` tokens, and to the
    one after it on a tie, since English puts a count before its noun ("seven children
    die, 22 hurt": 7 died, 22 were hurt)."""
    found: dict[str, int] = {}
    for j, tok in enumerate(toks):
        if not extract_numbers([tok]):
            continue
        owner: tuple[int, int, str] | None = None  # (distance, before it, kind)
        for i in range(max(0, j - _REACH), min(len(toks), j + _REACH + 1)):
            kind = _CASUALTY_WORDS.get(toks[i])
            if kind is not None and (d := (abs(i - j), int(i < j), kind)) < (owner or (99,)):
                owner = d
        if owner is not None:
            found[owner[2]] = max(found.get(owner[2], 0), int(tok))
    return found


def talks_hosts(toks: Sequence[str], places: Iterable[str]) -> frozenset[str]:
    """Who hosts the talks a report speaks of: its venues' countries and its mediators."""
    hosts = {_VENUE_HOST[p] for p in places if p in _VENUE_HOST}
    hosts.update(_MEDIATOR_HOST[t] for t in toks if t in _MEDIATOR_HOST)
    return frozenset(hosts)


def identity_of(
    title: str,
    title_tokens: Sequence[str],
    lead_tokens: Sequence[str] = (),
    places: Iterable[str] = (),
) -> Identity:
    """The identity a headline states (place, figures, round), and the talks it or its lead
    (`lead_tokens`; `places` of headline and lead) speak of."""
    toks = (*title_tokens, *lead_tokens)
    talks = not _TALKS_WORDS.isdisjoint(toks)
    rounds = frozenset(
        _ORDINALS.get(m[1], 0) or int(re.sub(r"\D", "", m[1])) for m in _ROUND.finditer(fold(title))
    )
    folded = fold(title)
    cause = _CAUSE.search(folded)
    head, after = (
        (frozenset(tokens(folded[: cause.start()])), frozenset(tokens(folded[cause.end() :])))
        if cause is not None
        else (frozenset(), frozenset())
    )
    return Identity(
        head=head,
        cause=after,
        numbered=frozenset(
            _ORDINALS.get(m[1], 0) or int(re.sub(r"\D", "", m[1]))
            for m in _NUMBERED.finditer(folded)
        ),
        places=finest(places_named(title)),
        figures=tuple(sorted(casualties(title_tokens).items())),
        rounds=rounds,
        talks=talks,
        hosts=talks_hosts(toks, places) if talks else frozenset(),
        host_in_title=talks and bool(talks_hosts(title_tokens, places_named(title))),
    )


def _figures_clash(a: Iterable[tuple[str, int]], b: Iterable[tuple[str, int]]) -> bool:
    """Counts of one kind too far apart for one incident: outlets round ("over 15" /
    "15-20") and revise a toll as it develops, but not from six to two or from 8 to 30."""
    mine = dict(a)
    for kind, value in b:
        old = mine.get(kind)
        if old is not None and max(old, value) > _TOLL_RATIO * min(old, value) + _TOLL_SLACK:
            return True
    return False


def conflict(
    a_event: Event | None,
    a: Identity,
    b_event: Event | None,
    b: Identity,
) -> str | None:
    """Why two reports cannot be one event, or None."""
    if not compatible(a.places, b.places):
        return f"different places ({', '.join(sorted(a.places | b.places))})"
    if (
        a_event is not None
        and b_event is not None
        and a_event.kind == b_event.kind == "statement"
        and a_event.speakers
        and b_event.speakers
        and not a_event.speakers & b_event.speakers
    ):
        return "different speakers"
    if _figures_clash(a.figures, b.figures):
        return "incompatible figures"
    if a.rounds and b.rounds and not a.rounds & b.rounds:
        return "different rounds"
    return None
