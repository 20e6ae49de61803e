"""Event signatures: what kind of event a headline reports, and who is speaking.

Owns `Event`, `event_of` and the word lists behind them. Reworded reports of one event
share few words ("Pakistan Army retaliates after Afghan forces open unprovoked fire" /
"Violent clashes erupt along Pak-Afghan border") but they report the same *kind* of event,
between the same sides, at the same time. An editor tells events apart the same way:

* the predicate of the headline decides the kind: an exchange of fire is a `clash`, air or
  precision strikes a `strike`, a truce a `ceasefire`, a round of talks `talks`, a closed
  crossing a `closure`;
* a headline whose predicate is a speech act ("warns", "urges", "slams", "hopes") or that is
  attributed to a named speaker reports a `statement`: statements of one speaker on one
  occasion are one story; a statement is never the clash it comments on, and the other
  side's reply is another speaker;
* background after "amid" or "in response to" is not the predicate ("Politicians united in
  response to unprovoked Afghan Taliban aggression" is a statement, not a clash);
* analysis and fact checks report no event of their own.

Pure and deterministic; word lists are folded with the same `tokens()` as fingerprints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.cluster.text import fold, tokens

__all__ = ["AFGHAN_SIDE", "EVENT_KINDS", "MIN_HEADLINE_WORDS", "Event", "event_of"]


def _toks(words: str) -> frozenset[str]:
    return frozenset(tokens(words))


# Predicates of a fight between the two sides' forces.
_CLASH = _toks(
    "clash clashes skirmish skirmishes fighting fight fought firing fire fired retaliates "
    "retaliation retaliatory repel repels repelled repulse repulsed respond responds "
    "responded response capture captured checkposts unprovoked silence silenced shelling "
    "exchange"
)
_STRIKE = _toks("strikes strike struck bombs bombed pounded airstrikes")
_CEASEFIRE = _toks("ceasefire truce")
_TALKS = _toks("talks dialogue negotiations mediation mediate jirga")
_CLOSURE = _toks("closed closure closes reopen reopens reopened suspended")
# Speech acts: the headline reports what someone said, not the event they spoke about.
_SPEECH_WORDS = (
    "warns warned urges urged slams slammed hails hailed condemns condemned calls called "
    "assails assailed hopes hoped asserts asserted rejects rejected vows vowed demands "
    "criticises criticizes seeks sought offers offered welcomes welcomed supports "
    "violates concerned concerns voices denounces accuses accused blames briefs "
    "underscores stresses insists reiterates lauds praises refutes denies rubbishes"
)
_SPEECH = _toks(_SPEECH_WORDS)
_SPEECH_SURFACE = frozenset(_SPEECH_WORDS.split())  # as written, to find where one is
# A modal in the predicate is a claim or a warning, not a report of what happened
# ("hostilities can resume", "provocation will be met with a befitting response").
_MODAL = re.compile(r"\b(?:will|would|can|could|may|might|must|should|cannot|can't)\b")
_KILL = _toks("killed")
# Named speakers of this beat, folded to one id (several names, titles or spellings each).
_SPEAKERS: tuple[tuple[str, str], ...] = (
    (r"\b(?:pm|shehbaz|prime minister)\b", "pm"),
    (r"\b(?:khawaja asif|kh\.? asif|asif|defence minister|defense minister)\b", "asif"),
    (r"\b(?:ishaq dar|dar|deputy prime minister|dpm|foreign minister)\b", "dar"),
    (
        r"\b(?:tarar|information minister|info minister|information ministry|info ministry)\b",
        "tarar",
    ),
    (r"\b(?:fo|foreign office)\b", "fo"),
    (r"\b(?:dg ispr|ispr chief|ispr dg|sharif chaudhry)\b", "dg-ispr"),
    (r"\b(?:munir|coas|cdf|army chief|field marshal)\b", "munir"),
    (r"\b(?:zardari|president)\b", "president"),
    (r"\b(?:opposition|ttap)\b", "opposition"),
    (r"\b(?:imran|pti|gohar)\b", "imran"),
    (r"\b(?:mujahid|zabihullah)\b", "mujahid"),
    (r"\b(?:naqvi|interior minister)\b", "naqvi"),
    (r"\b(?:senate|national assembly|parliament)\b", "parliament"),
    (r"\b(?:china|chinese|beijing)\b", "china"),
    (r"\btrump\b", "trump"),
    (r"\b(?:politicians|political leadership)\b", "politicians"),
)
_SPEAKER_RE = [(re.compile(p), s) for p, s in _SPEAKERS]
# Speakers who announce the fighting itself (the information minister; the DG ISPR holds
# press conferences, events of their own):
# their attribution does not make a report of a clash a statement.
_EVENT_SOURCES = frozenset({"tarar"})
_ATTRIBUTION_WORDS = 6  # ": Defence Minister Khawaja Asif"; longer tails are news
_SAYS = frozenset({"says", "said", "tells", "told"})  # stop words, so not among tokens
# "X tells Y" addresses someone: a speech act. ("Pakistan says 19 posts captured" reports
# an event through its source, so "says" alone is not one.)
_TELLS = frozenset({"tells", "told"})
_SAYS_TAIL = re.compile(r",\s*(?:says|said)\s+([^,;:]{1,60})$")
_QUOTES = frozenset("'\"‘“")  # a headline opening on a quotation
MIN_HEADLINE_WORDS = 3  # "Afghan clashes", "Terror surge": editorial titles, no event
# "Pakistan hopes …", "Pakistan urges …": the state speaking through its foreign office.
_STATE_VOICE = re.compile(r"^pakistan(?:'s)?\s+(\w+)")
# Background, not the predicate: "… amid border clashes", "… in response to aggression",
# "Delegations reconvene following Pakistan's response".
_BACKGROUND = re.compile(r"\b(?:amid|amidst|in response to|in the wake of|following|after)\b.*$")
_NO_EVENT = re.compile(r"^(?:fact[ -]?check|situationer|editorial|explainer|opinion)\b")
# The other side, for events between the two states' forces.
AFGHAN_SIDE = _toks("afghan afghanistan taliban kabul kandahar")

EVENT_KINDS = ("clash", "strike", "ceasefire", "talks", "closure", "statement")


@dataclass(frozen=True, slots=True)
class Event:
    """What a headline reports: an event kind, its speakers, whether the Afghan side is in it."""

    kind: str
    speakers: frozenset[str] = frozenset()
    afghan: bool = False

    def describe(self) -> str:
        who = f" by {', '.join(sorted(self.speakers))}" if self.speakers else ""
        return f"{self.kind}{who}"


def _named(text: str) -> set[str]:
    return {s for rx, s in _SPEAKER_RE if rx.search(text)}


def _speakers(folded: str) -> set[str]:
    """Who speaks in a headline: the attribution when there is one ("…: FO", "…, says
    Gohar", "Asif tells Kabul …"), since other names are what the speaker spoke about
    ("Pakistan seeks peace: Shehbaz tells Ibrahim" is the PM, not the foreign office);
    every speaker named when there is none."""
    _, colon, tail = folded.rpartition(":")
    if colon and len(tail.split()) <= _ATTRIBUTION_WORDS and (who := _named(tail)):
        return who
    says = _SAYS_TAIL.search(folded)
    if says is not None and (who := _named(says[1])):
        return who
    words = folded.split()
    for i, word in enumerate(words):
        if word in _SAYS or word.strip(",'\"") in _SPEECH_SURFACE:
            if who := _named(" ".join(words[:i])):
                return who
            break
    return _named(folded)


def event_of(title: str, summary_tokens: tuple[str, ...] = ()) -> Event | None:
    """The event signature of a headline, or None when it reports no event we can type."""
    folded = fold(title).replace("’", "'").strip(" '\"‘“")
    if _NO_EVENT.match(folded):
        return None
    every_toks = tokens(folded)
    if len(every_toks) < MIN_HEADLINE_WORDS:
        return None
    # The first clause carries the news ("Intense fighting along the border; friendly
    # countries urge restraint"), background after "amid" does not.
    predicate = _BACKGROUND.sub("", folded.split(";")[0])
    head = frozenset(tokens(predicate)) if predicate != folded else frozenset(every_toks)
    every = frozenset(every_toks)
    afghan = bool((every | frozenset(summary_tokens)) & AFGHAN_SIDE)
    speakers = _speakers(folded)
    voice = _STATE_VOICE.match(folded)
    if not speakers and voice is not None and frozenset(tokens(voice[1])) & _SPEECH:
        speakers.add("fo")
    speaking = frozenset(speakers)
    told = any(w in _TELLS for w in predicate.split())
    # A headline that opens on a quotation attributed to a named speaker ("'Ball is in
    # their court': PM") reports what they said, whatever the quotation is about.
    quoted = bool(speaking) and title.lstrip()[:1] in _QUOTES
    if head & _SPEECH or _MODAL.search(predicate) or told or quoted:
        return Event("statement", speaking, afghan)
    fighting = head & _CLASH or (head & _KILL and every & AFGHAN_SIDE)
    if fighting and speaking <= _EVENT_SOURCES:
        return Event("clash", speaking, afghan)
    if head & _STRIKE and not speaking:
        return Event("strike", speaking, afghan)
    # An event attributed to its source ("… to hold talks in Doha: FO", "ceasefire agreed:
    # defence minister") reports the event; the name is where the news came from.
    for kind, words in (("ceasefire", _CEASEFIRE), ("talks", _TALKS), ("closure", _CLOSURE)):
        if head & words:
            return Event(kind, speaking, afghan)
    if speaking:
        return Event("statement", speaking, afghan)
    return None
