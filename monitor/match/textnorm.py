"""Text normalisation for matching, with a map back to the original characters.

This module owns the one definition of "the same word" used by rules and items alike:
case-folded, without diacritics, with Arabic-script letter variants unified, and with every
run of punctuation or space turned into a single space. A normalised text is framed by spaces
(" ttp attack ") so that a term key framed the same way can only match whole words.

Both a fast path (`normalize_fast`, for the automaton) and an offset-keeping path
(`normalize`, only when spans are needed) use the same per-character table, so they always
produce the same string.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

SEP = " "

# Arabic-script letters that outlets write interchangeably: Arabic vs Persian/Urdu/Pashto forms.
_ARABIC_FOLD: dict[str, str] = {
    "\u064a": "\u06cc",  # Arabic yeh -> Farsi yeh
    "\u0649": "\u06cc",  # alef maksura
    "\u06d2": "\u06cc",  # Urdu yeh barree
    "\u06d3": "\u06cc",  # yeh barree with hamza
    "\u06cd": "\u06cc",  # Pashto yeh with tail
    "\u06d0": "\u06cc",  # Pashto/Uyghur e
    "\u0626": "\u06cc",  # yeh with hamza above
    "\u0643": "\u06a9",  # Arabic kaf -> keheh
    "\u06aa": "\u06a9",  # swash kaf
    "\u06ab": "\u06af",  # Pashto gaf with ring -> gaf
    "\u0647": "\u06c1",  # Arabic heh -> heh goal (Urdu)
    "\u06be": "\u06c1",  # heh doachashmee
    "\u06c0": "\u06c1",  # heh with yeh above
    "\u06c2": "\u06c1",  # heh goal with hamza
    "\u06d5": "\u06c1",  # ae
    "\u0629": "\u06c1",  # teh marbuta
    "\u0623": "\u0627",  # alef with hamza above
    "\u0625": "\u0627",  # alef with hamza below
    "\u0622": "\u0627",  # alef with madda
    "\u0671": "\u0627",  # alef wasla
    "\u0624": "\u0648",  # waw with hamza
    "\u06c7": "\u0648",  # u
}

# Invisible characters that sit inside words: dropping them joins the word back together.
_DROP = frozenset(
    "\u0640"  # tatweel (kashida)
    "\u00ad"  # soft hyphen (Dawn's summaries are full of them: "Pak\u00adistan")
    "\u200b\u200c\u200d"  # zero width space, ZWNJ, ZWJ
    "\u200e\u200f\u2060\ufeff"  # LRM, RLM, word joiner, BOM
)


def fold_char(ch: str) -> str:
    """What one original character becomes: "" (dropped), SEP (a separator) or word characters."""
    if ch in _DROP:
        return ""
    if ch in _ARABIC_FOLD:
        return _ARABIC_FOLD[ch]
    out: list[str] = []
    for c in unicodedata.normalize("NFKD", ch.casefold()):
        if unicodedata.category(c) in ("Mn", "Me"):  # accents, harakat: not part of the word
            continue
        c = _ARABIC_FOLD.get(c, c)
        if "0" <= c <= "9" or c.isalnum():
            # Arabic-Indic and Persian digits read as ASCII digits.
            dig = unicodedata.digit(c, None)
            out.append(str(dig) if dig is not None else c)
        else:
            # Hyphens, apostrophes (straight or curly), dashes, quotes, spaces all separate words.
            return SEP
    return "".join(out)


class _FoldTable(dict[int, str]):
    """A `str.translate` table filled on first sight of each character."""

    def __missing__(self, key: int) -> str:
        value = fold_char(chr(key))
        self[key] = value
        return value


_TABLE = _FoldTable()


def normalize_fast(text: str) -> str:
    """The normalised form of `text`, framed by SEP, without offsets (the hot path)."""
    folded = text.translate(_TABLE)
    return SEP + SEP.join(folded.split()) + SEP


@dataclass(frozen=True, slots=True)
class Normalized:
    """A normalised text and, for each of its characters, the original index it came from.

    `origin` has one more entry than `text`: the closing SEP maps to len(original).
    """

    original: str
    text: str
    origin: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) for the normalised word characters [start, end).

        The end is taken from the separator that follows, so trailing marks that were
        dropped (harakat, soft hyphens) stay inside the span.
        """
        o_start = self.origin[start]
        o_end = self.origin[end] if end < len(self.origin) else len(self.original)
        return o_start, max(o_end, o_start)


_WORD = re.compile(r"[^ ]+")


def normalize(text: str) -> Normalized:
    """The normalised form of `text` with its offset map (same string as `normalize_fast`)."""
    folded = text.translate(_TABLE)
    if len(folded) == len(text):
        # Every character folded to exactly one (nothing dropped or expanded), so word
        # positions in `folded` are positions in `text`: map whole words at C speed.
        origin = [0]
        for m in _WORD.finditer(folded):
            start, end = m.span()
            origin.extend(range(start, end))
            origin.append(end)
        if len(origin) == 1:
            origin.append(len(text))
        return Normalized(text, SEP + SEP.join(folded.split()) + SEP, tuple(origin))
    return _normalize_slow(text)


def _normalize_slow(text: str) -> Normalized:
    """Character by character, for texts with dropped (tatweel, ZWNJ) or expanded characters."""
    chars: list[str] = [SEP]
    origin: list[int] = [0]
    for i, ch in enumerate(text):
        folded = _TABLE[ord(ch)]
        if not folded:
            continue
        if folded == SEP:
            if chars[-1] != SEP:
                chars.append(SEP)
                origin.append(i)
            continue
        for c in folded:
            chars.append(c)
            origin.append(i)
    # A trailing separator run keeps its first index, so spans end where the word ended.
    if chars[-1] != SEP:
        chars.append(SEP)
        origin.append(len(text))
    if len(chars) == 1:  # empty text normalises to a single SEP
        chars.append(SEP)
        origin.append(len(text))
    return Normalized(text, "".join(chars), tuple(origin))


def normalize_term(term: str) -> str:
    """A term or phrase as words joined by SEP, without the frame ("tehreek e taliban")."""
    return normalize_fast(term).strip(SEP)
