"""Fingerprints of news items: what decide() compares and what the index is keyed by.

Owns `Fingerprint` and `fingerprint()`: normalised title and lead tokens, a MinHash
signature with its LSH band keys, and the keys for exact lookups (same canonical URL, same
normalised text). Every hash is a keyed BLAKE2b of UTF-8 bytes, never Python's `hash()`
(salted per process), so keys written by one process are found by the next. Keys are short
ASCII strings, fit for an indexed database column.
"""

from __future__ import annotations

import hashlib
import itertools
import struct
from dataclasses import dataclass

from monitor.cluster.event import Event, event_of
from monitor.cluster.gazetteer import places_named
from monitor.cluster.identity import NO_IDENTITY, Identity, identity_of
from monitor.cluster.text import extract_numbers, strip_boilerplate, tokens
from monitor.cluster.weights import total, weight

__all__ = [
    "BANDS",
    "DISTINCTIVE",
    "LEAD_TOKENS",
    "ROWS",
    "Fingerprint",
    "event_keys",
    "fingerprint",
    "url_key",
]

LEAD_TOKENS = 40  # the lead is what outlets copy; deeper text drifts into background
BANDS = 16
ROWS = 2  # 2 rows a band: a pair sharing ~30% of distinctive words meets with p ≈ 0.8
DISTINCTIVE = 0.3  # word weight below which a word is too common to look reports up by
_TITLE_PAIR_WORDS = 8  # distinctive title words whose pairs become keys
# One 64-byte BLAKE2b digest of a word gives 16 independent 32-bit hashes; two digests
# with different personalisation give the BANDS * ROWS = 32 MinHash functions. Fixed
# personalisation: the signature means the same thing in every process, forever.
_PERSONS = (b"fm-minhash-0", b"fm-minhash-1")
_UNPACK = struct.Struct("<16I").unpack


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """The comparable essence of one item's title and lead."""

    title_tokens: tuple[str, ...]
    lead_tokens: tuple[str, ...]
    signature: tuple[int, ...]  # MinHash over the distinctive words of title + lead
    band_keys: tuple[str, ...]  # LSH bands and distinctive title word pairs
    exact_key: str  # same normalised title and lead ⇔ same key
    numbers: frozenset[int]  # figures in title and lead (years excluded)
    title_numbers: frozenset[int]
    places: frozenset[str]  # gazetteer places (cluster.gazetteer ids) in title and lead
    # The distinct words of the title, and of title and lead, in order of first use: what
    # decide compares. Tuples, not sets: a neighbour's fingerprint is kept by the thousand,
    # and a tuple takes a fifth of a set's room; decide makes sets of the candidate's alone.
    title_words: tuple[str, ...] = ()
    text_words: tuple[str, ...] = ()
    event: Event | None = None  # what kind of event the headline reports (cluster.event)
    # Worked out once here rather than for every pair compared (decide runs per candidate
    # pair, often a hundred per item): the summed word weights (cluster.weights) of each
    # set, places in the title.
    title_weight: float = 0.0
    text_weight: float = 0.0
    title_places: frozenset[str] = frozenset()
    identity: Identity = NO_IDENTITY  # place, figures, round the headline states


def _short(text: str, prefix: str) -> str:
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=6, person=b"fm-key").hexdigest()
    return prefix + digest


def url_key(canonical: str) -> str:
    """The index key under which items with this canonical URL are posted."""
    return _short(canonical, "u")


def _minhash(words: frozenset[str]) -> tuple[int, ...]:
    if not words:
        return ()
    rows = [
        _UNPACK(hashlib.blake2b(w.encode("utf-8"), person=p).digest())
        + (_UNPACK(hashlib.blake2b(w.encode("utf-8"), person=_PERSONS[1]).digest()))
        for w in words
        for p in (_PERSONS[0],)
    ]
    return tuple(map(min, zip(*rows, strict=True)))


def identity_keys(identity: Identity) -> tuple[str, ...]:
    """Keys of an event's identity that reworded reports share: each casualty count, and
    the host of the talks spoken of (weak keys, like an event kind: see index.tie)."""
    keys = [_short(f"toll:{kind}:{value}", "k") for kind, value in identity.figures]
    keys.extend(_short(f"host:{h}", "k") for h in sorted(identity.hosts))
    return tuple(keys)


def event_keys(event: Event | None) -> tuple[str, ...]:
    """Keys of an event signature: one per speaker for statements, else one per kind."""
    if event is None:
        return ()
    if event.kind == "statement":
        return tuple(_short(f"speaker:{s}", "s") for s in sorted(event.speakers))
    return (_short(f"event:{event.kind}:{event.afghan}", "k"),)


def _band_keys(signature: tuple[int, ...], title_words: list[str]) -> tuple[str, ...]:
    keys: list[str] = []
    for band in range(BANDS if signature else 0):
        rows = signature[band * ROWS : (band + 1) * ROWS]
        keys.append(_short(f"{band}:" + ",".join(map(str, rows)), f"b{band:x}"))
    # Reworded copies from other outlets share few words of lead but keep the names:
    # any two distinctive title words in common make the items candidates.
    distinct = sorted(dict.fromkeys(title_words[:_TITLE_PAIR_WORDS]))
    for a, b in itertools.combinations(distinct, 2):
        keys.append(_short(f"{a}\x1f{b}", "p"))
    return tuple(keys)


def fingerprint(title: str, summary: str) -> Fingerprint:
    """Fingerprint of an item from its title and summary. Pure, deterministic, never raises
    on text (any script, any length)."""
    title_toks = tokens(title)
    lead_text = strip_boilerplate(summary)
    lead_toks = tokens(lead_text)[:LEAD_TOKENS]
    both = title_toks + lead_toks
    # Words most of the corpus uses would make every pair of reports a candidate.
    distinctive = frozenset(w for w in both if weight(w) >= DISTINCTIVE)
    signature = _minhash(distinctive)
    title_distinct = [w for w in dict.fromkeys(title_toks) if weight(w) >= DISTINCTIVE]
    event = event_of(title, tuple(lead_toks))
    exact = _short(" ".join(title_toks) + "\x1e" + " ".join(lead_toks), "x")
    title_places = places_named(title)
    # The lead's places as far as the lead tokens reach (stop words make words > tokens).
    places = title_places | places_named(" ".join(lead_text.split()[: 2 * LEAD_TOKENS]))
    title_words, text_words = tuple(dict.fromkeys(title_toks)), tuple(dict.fromkeys(both))
    identity = identity_of(title, title_toks, lead_toks, places)
    return Fingerprint(
        title_tokens=tuple(title_toks),
        lead_tokens=tuple(lead_toks),
        signature=signature,
        band_keys=_band_keys(signature, title_distinct)
        + event_keys(event)
        + identity_keys(identity),
        exact_key=exact,
        numbers=extract_numbers(both),
        title_numbers=extract_numbers(title_toks),
        places=places,
        title_words=title_words,
        text_words=text_words,
        event=event,
        title_weight=total(title_words),
        text_weight=total(text_words),
        title_places=title_places,
        identity=identity,
    )
