"""Text normalisation for matching, with a map back to the original characters.

This module owns the one definition of "the same word" used by rules and items alike (and by
story clustering, which folds words with `fold_marks`): compatibility forms decomposed (NFKC:
Arabic presentation forms and ligatures read as their letters), case-folded, without
diacritics, with Arabic-script letter variants unified (Arabic, Persian, Urdu and Pashto forms
of kaf, yeh, heh and the retroflex letters), with digits split from the non-Latin letters they
touch ("4پولیس" is "4 پولیس"), and with every run of punctuation or space turned into a single
space. A normalised text is framed by spaces (" ttp attack ") so that a term key framed the
same way can only match whole words. `term_variants` gives the keys of a rule term written
solid or apart ("دہشت گرد" and "دہشتگرد"), which Urdu and Persian writers use alike.

Both a fast path (`normalize_fast`, for the automaton) and an offset-keeping path
(`normalize`, only when spans are needed) use the same per-character table, so they always
produce the same string. The fast path is cheap first and exact always: ASCII text is folded
by a 128-entry bytes table, mostly-ASCII text has only its non-ASCII runs looked up, and only
text in another script goes through `str.translate` character by character (and then has
glued digits split off). `offset_map` gives spans for a text without building a
per-character map when nothing was dropped or expanded (the common case): it keeps one shift
per run of separators instead.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable
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
    "\u06c3": "\u06c1",  # teh marbuta goal
    # Pashto retroflex letters, which Pakistani Pashto typed on Urdu keyboards writes with the
    # Urdu letters for the same sounds (ټ/ٹ, ډ/ڈ, ړ/ڑ, ڼ/ن), as it does ګ/گ.
    "\u067c": "\u0679",  # Pashto tteh -> Urdu tteh
    "\u0689": "\u0688",  # Pashto ddal -> Urdu ddal
    "\u0693": "\u0691",  # Pashto rreh -> Urdu rreh
    "\u06bc": "\u0646",  # Pashto noon with ring -> noon
}

# Invisible characters that sit inside words: dropping them joins the word back together.
_DROP = frozenset(
    "\u0640"  # tatweel (kashida)
    "\u00ad"  # soft hyphen (Dawn's summaries are full of them: "Pak\u00adistan")
    "\u200b\u200c\u200d"  # zero width space, ZWNJ, ZWJ
    "\u200e\u200f\u2060\ufeff"  # LRM, RLM, word joiner, BOM
)


def fold_char(ch: str) -> str:
    """What one original character becomes: "" (dropped), SEP (a separator) or word characters.

    The compatibility decomposition (NFKD, then marks dropped) reads presentation forms and
    ligatures as their letters; a ligature of several words ("ﷺ") keeps its word breaks.
    """
    if ch in _DROP:
        return ""
    if ch in _ARABIC_FOLD:
        return _ARABIC_FOLD[ch]
    out: list[str] = []
    for c in unicodedata.normalize("NFKD", ch.casefold()):
        if unicodedata.category(c) in ("Mn", "Me") or c in _DROP:
            continue  # accents, harakat, a tatweel inside a medial form: not part of the word
        c = _ARABIC_FOLD.get(c, c)
        if "0" <= c <= "9" or c.isalnum():
            # Arabic-Indic and Persian digits read as ASCII digits.
            dig = unicodedata.digit(c, None)
            out.append(str(dig) if dig is not None else c)
        elif not out or out[-1] != SEP:
            # Hyphens, apostrophes (straight or curly), dashes, quotes, spaces all separate words.
            out.append(SEP)
    word = "".join(out)
    return SEP if word and not word.strip(SEP) else word


class _FoldTable(dict[int, str]):
    """A `str.translate` table filled on first sight of each character."""

    def __missing__(self, key: int) -> str:
        value = fold_char(chr(key))
        self[key] = value
        return value


_TABLE = _FoldTable()


# Every ASCII character folds to exactly one ASCII character (checked below), so ASCII text
# can be folded as bytes, at C speed, with the same result as `str.translate(_TABLE)`.
_ASCII = bytes(ord(fold_char(chr(i))) for i in range(128)) + bytes(128)
assert all(len(fold_char(chr(i))) == 1 for i in range(128))
_FOLD_ERRORS = "monitor.match.fold"


class _NotAscii(Exception):
    """A non-ASCII run folds to other than lower-case ASCII: the text needs the full table."""


def _fold_error(exc: UnicodeError) -> tuple[str, int]:
    """Encode error handler: a run of non-ASCII characters becomes its (ASCII) fold."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    run = exc.object[exc.start : exc.end].translate(_TABLE)
    # The bytes table will fold the result again: only lower-case ASCII passes unchanged
    # ("𝕊" folds to "S", which must stay "S").
    if not run.isascii() or run != run.lower():
        raise _NotAscii
    return run, exc.end


codecs.register_error(_FOLD_ERRORS, _fold_error)


# A digit and a letter of a non-Latin script never make one word: Urdu scraped from the press
# glues counts to the next word ("4پولیس", "شہید10"). Latin letters keep theirs ("T20",
# "F-16", "26th" are names and ordinals). After folding every digit is ASCII and every
# non-ASCII character is a letter, so the boundary is a digit beside a non-ASCII character.
_GLUED = re.compile(r"(?<=[0-9])(?=[^\x00-\x7f])|(?<=[^\x00-\x7f])(?=[0-9])")


def split_glued(folded: str) -> str:
    """A folded text with a SEP between every digit and a non-Latin letter it touches."""
    return _GLUED.sub(SEP, folded)


def fold(text: str) -> str:
    """`text` with every character replaced by what `fold_char` makes of it, not yet framed.

    Always equal to `split_glued(text.translate(_TABLE))`; only the route there depends on
    the text. English text with a few curly quotes, dashes or soft hyphens is encoded as
    ASCII with each non-ASCII run looked up (an encode error handler), then folded as bytes
    (its folded form is ASCII, so no digit is glued to a non-Latin letter); text in another
    script goes through the table character by character, then has glued digits split.
    """
    try:
        data = text.encode("ascii", _FOLD_ERRORS)
    except _NotAscii:
        return _GLUED.sub(SEP, text.translate(_TABLE))
    return data.translate(_ASCII).decode("ascii")


def _pieces(text: str) -> list[str]:
    """What each character of `text` folds to, so that "".join(...) == fold(text).

    A SEP that splits a digit from a letter belongs to the character after the boundary.
    """
    pieces: list[str] = []
    last = ""  # the last folded character so far
    for ch in text:
        piece = _TABLE[ord(ch)]
        if piece:
            # The boundary with the previous character, and any inside an expansion ("㋀").
            piece = _GLUED.sub(SEP, last + piece)[len(last) :]
            last = piece[-1]
        pieces.append(piece)
    return pieces


class _KeepMarksTable(dict[int, str]):
    """`_TABLE`, except that what folds to a separator stays the original character."""

    def __missing__(self, key: int) -> str:
        value = _TABLE[key]
        value = self[key] = chr(key) if value == SEP else value
        return value


_KEEP_MARKS = _KeepMarksTable()


def fold_marks(text: str) -> str:
    """Words folded exactly as for matching, punctuation and spaces kept as they are.

    For story clustering, whose tokeniser still reads apostrophes, dots and thousands
    separators ("Pakistan's", "D.I. Khan", "4,600") before it splits words.
    """
    return _GLUED.sub(SEP, text.translate(_KEEP_MARKS))


def frame(folded: str) -> str:
    """A folded text with separator runs collapsed, framed by SEP (" ttp attack ")."""
    # Most runs are two or three long (", ", " – "): one pass for each, then any longer rest.
    folded = folded.replace("   ", SEP).replace("  ", SEP)
    while "  " in folded:
        folded = folded.replace("  ", SEP)
    return SEP + folded.strip(SEP) + SEP


def normalize_fast(text: str) -> str:
    """The normalised form of `text`, framed by SEP, without offsets (the hot path)."""
    return frame(fold(text))


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
        # A word from inside an expansion ("ﷺ" is four words) still covers its character.
        return o_start, max(o_end, o_start + 1)


_WORD = re.compile(r"[^ ]+")


class OffsetMap:
    """Spans into the original text without a per-character map.

    Two piecewise shifts stand in for the map. From the normalised text to the folded one,
    the shift changes only after a run of separators that was collapsed; from the folded
    text to the original, only after a character that folded to none or to several (soft
    hyphens, tatweel, harakat, "ß"), which only non-ASCII text has. So a text costs one
    (position, shift) pair per run and per such character, not one entry per character.
    Same spans as `Normalized.span` from the character-by-character path (see the tests).
    """

    __slots__ = ("_fold_shifts", "_fold_starts", "_shifts", "_starts")

    def __init__(self, text: str, folded: str) -> None:
        lead = len(folded) - len(folded.lstrip(SEP))
        removed = lead
        self._starts = [0]
        self._shifts = [lead - 1]  # the framing SEP comes first
        # Runs of two or more separators between words; a trailing run keeps its first index.
        for m in _RUNS.finditer(folded, lead, len(folded.rstrip(SEP))):
            start, end = m.span()
            removed += end - start - 1
            self._starts.append(end - removed + 1)
            self._shifts.append(removed - 1)
        self._fold_starts: list[int] = []
        self._fold_shifts: list[int] = []
        if text.isascii():
            return
        if folded.isascii():
            # Only the non-ASCII runs can fold to other than one character; nothing is glued.
            self._fold_breaks(
                (i, len(_TABLE[ord(text[i])]))
                for run in _NON_ASCII.finditer(text)
                for i in range(run.start(), run.end())
            )
        else:
            self._fold_breaks((i, len(piece)) for i, piece in enumerate(_pieces(text)))

    def _fold_breaks(self, lengths: Iterable[tuple[int, int]]) -> None:
        """Folded position -> original: where a character folded to other than one.

        `lengths` gives (original index, length of its fold) for at least every character
        whose fold is not one character long, in order.
        """
        starts, shifts = self._fold_starts, self._fold_shifts
        delta = 0  # folded index - original index so far
        for i, k in lengths:
            if k != 1:
                at = i + delta
                # Every character of an expansion comes from i; what follows from i + 1.
                for j in range(1, k):
                    starts.append(at + j)
                    shifts.append(i - at - j)
                delta += k - 1
                starts.append(at + k)
                shifts.append(-delta)

    def _original(self, pos: int) -> int:
        folded = pos + self._shifts[bisect_right(self._starts, pos) - 1]
        if not self._fold_starts:
            return folded
        index = bisect_right(self._fold_starts, folded) - 1
        return folded if index < 0 else folded + self._fold_shifts[index]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) for the word characters [start, end) (`end` is a SEP)."""
        o_start = self._original(start)
        return o_start, max(self._original(end), o_start + 1)


_RUNS = re.compile("  +")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def offset_map(text: str) -> OffsetMap:
    """Spans for `text` (see `OffsetMap`), built only when a rule fired on it."""
    return OffsetMap(text, fold(text))


def normalize(text: str) -> Normalized:
    """The normalised form of `text` with a full per-character offset map (the reference).

    Same string as `normalize_fast`; `offset_map` gives the same spans far more cheaply.
    """
    if text.isascii():
        # Every ASCII character folds to exactly one, so word positions in `folded` are
        # positions in `text`: map whole words at C speed.
        folded = fold(text)
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
    for i, piece in enumerate(_pieces(text)):
        for c in piece:
            if c == SEP:
                if chars[-1] != SEP:
                    chars.append(SEP)
                    origin.append(i)
            else:
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
    """A term or phrase as words joined by SEP, without the frame ("tehreek e taliban").

    A zero-width non-joiner in a term marks where its words may be written apart or solid
    ("می‌شود" is "می شود" or "میشود"): it is a word break here, and `term_variants` joins
    the words again. In item text it is dropped, so it joins (see `_DROP`).
    """
    return normalize_fast(term.replace("\u200c", SEP)).strip(SEP)


# Up to this many words, a term matches with every word break written solid or apart; a
# longer one matches written all apart or all solid (2 ** (n - 1) keys would add up).
_MAX_VARIANT_WORDS = 5


def term_variants(words: str) -> list[str]:
    """A normalised term written with each of its word breaks as a space or as nothing.

    Urdu and Persian write compounds both ways ("دہشت گرد" / "دہشتگرد", "خیبر پختونخوا" /
    "خیبرپختونخوا"), as English does some ("air strike" / "airstrike"). The term as
    written comes first; a term with glued digits split keeps them split ("4 پولیس").
    """
    parts = words.split(SEP)
    if len(parts) == 1:
        return [words]
    if len(parts) > _MAX_VARIANT_WORDS:
        joined = split_glued("".join(parts))
        return [words] if joined == words else [words, joined]
    out = [words]
    for mask in range(1, 2 ** (len(parts) - 1)):
        joined = parts[0]
        for k, part in enumerate(parts[1:]):
            joined += ("" if mask >> k & 1 else SEP) + part
        # Joining a digit to a non-Latin letter gives back the split form: not a new key.
        joined = split_glued(joined)
        if joined not in out:
            out.append(joined)
    return out
