"""Fingerprints of news items: what decide() compares and what the index is keyed by.

Owns `Fingerprint` and `fingerprint()`: normalised title and lead tokens, word-pair
shingles, a MinHash signature with its LSH band keys, and the keys for exact lookups
(same canonical URL, same normalised text). Every hash is a keyed BLAKE2b or CRC32 of
UTF-8 bytes, never Python's `hash()` (salted per process), so keys written by one process
are found by the next. Keys are short ASCII strings, fit for an indexed database column.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import zlib
from dataclasses import dataclass

from monitor.cluster.text import GENERIC, extract_numbers, places_in, strip_boilerplate, tokens

__all__ = [
    "BANDS",
    "LEAD_TOKENS",
    "ROWS",
    "Fingerprint",
    "fingerprint",
    "url_key",
]

LEAD_TOKENS = 40  # the lead is what outlets copy; deeper text drifts into background
BANDS = 16
ROWS = 2  # 2 rows a band: a pair sharing ~30% of distinctive words meets with p ≈ 0.8
_TITLE_PAIR_WORDS = 8  # distinctive title words whose pairs become keys
_MERSENNE = (1 << 61) - 1
# Fixed coefficients: the signature must mean the same thing in every process, forever.
_rng = random.Random(20251010)
_COEFFS: tuple[tuple[int, int], ...] = tuple(
    (_rng.randrange(1, _MERSENNE), _rng.randrange(0, _MERSENNE)) for _ in range(BANDS * ROWS)
)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """The comparable essence of one item's title and lead."""

    title_tokens: tuple[str, ...]
    lead_tokens: tuple[str, ...]
    shingles: frozenset[int]  # CRC32 of consecutive word pairs of title + lead
    signature: tuple[int, ...]  # MinHash over the distinctive words of title + lead
    band_keys: tuple[str, ...]  # LSH bands and distinctive title word pairs
    exact_key: str  # same normalised title and lead ⇔ same key
    numbers: frozenset[int]  # figures in title and lead (years excluded)
    title_numbers: frozenset[int]
    places: frozenset[str]  # gazetteer places in title and lead

    @property
    def words(self) -> frozenset[str]:
        return frozenset(self.title_tokens) | frozenset(self.lead_tokens)


def _h64(text: str, person: bytes) -> int:
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8, person=person).digest()
    return int.from_bytes(digest, "big")


def _short(text: str, prefix: str) -> str:
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=6, person=b"fm-key").hexdigest()
    return prefix + digest


def url_key(canonical: str) -> str:
    """The index key under which items with this canonical URL are posted."""
    return _short(canonical, "u")


def _minhash(words: frozenset[str]) -> tuple[int, ...]:
    if not words:
        return ()
    hashes = [_h64(w, b"fm-minhash") for w in sorted(words)]
    return tuple(min((a * h + b) % _MERSENNE for h in hashes) for a, b in _COEFFS)


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
    lead_toks = tokens(strip_boilerplate(summary))[:LEAD_TOKENS]
    both = title_toks + lead_toks
    shingles = frozenset(
        zlib.crc32(f"{a} {b}".encode()) for a, b in itertools.pairwise(both)
    ) or frozenset(zlib.crc32(w.encode()) for w in both)
    distinctive = frozenset(w for w in both if w not in GENERIC)
    signature = _minhash(distinctive)
    title_distinct = [w for w in dict.fromkeys(title_toks) if w not in GENERIC]
    exact = _short(" ".join(title_toks) + "\x1e" + " ".join(lead_toks), "x")
    return Fingerprint(
        title_tokens=tuple(title_toks),
        lead_tokens=tuple(lead_toks),
        shingles=shingles,
        signature=signature,
        band_keys=_band_keys(signature, title_distinct),
        exact_key=exact,
        numbers=extract_numbers(both),
        title_numbers=extract_numbers(title_toks),
        places=places_in(both),
    )
