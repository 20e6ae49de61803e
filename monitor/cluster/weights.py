"""How much a shared word says that two reports are one event: inverse document frequency.

Owns `weight` and `total`. The table (`idf.tsv`, written by `scripts/build_story_idf.py`)
counts how many of the recorded feeds' items use each word; a word nearly every item of
the beat uses ("Pakistan", "border", "killed") weighs little, a name or a rare predicate
weighs 1. Words the table does not hold (seen in fewer than three items, or never) weigh 1.
Statistics of the whole corpus, not a list of beat words: a new beat's feeds give new
weights by re-running the script. Pure after import (the table is read once).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

__all__ = ["total", "weight"]

_FLOOR = 0.05  # even "pakistan" breaks a tie between two otherwise equal reports


def _load() -> dict[str, float]:
    lines = (Path(__file__).with_name("idf.tsv")).read_text(encoding="utf-8").splitlines()
    items = int(lines[0].split("\t")[1])
    top = math.log(items + 1)  # the idf of a word no item uses
    out: dict[str, float] = {}
    for line in lines[1:]:
        word, df = line.split("\t")
        out[word] = max(_FLOOR, math.log((items + 1) / (int(df) + 1)) / top)
    return out


_WEIGHTS = _load()


def weight(word: str) -> float:
    """The weight of a token in (0, 1]: 1 for words the corpus rarely or never uses."""
    return _WEIGHTS.get(word, 1.0)


def total(words: Iterable[str]) -> float:
    """The summed weight of distinct tokens."""
    get = _WEIGHTS.get
    return sum(get(w, 1.0) for w in words)
