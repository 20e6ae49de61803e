"""The fast matching path against the slow, obvious one: same strings, spans and matches.

`fold` (bytes table, encode error handler), `OffsetMap` (spans without a per-character map)
and `Matcher.match` (closures, trigger keys, lazy hits) must agree exactly with
`str.translate`, `normalize(...).span` and `Matcher.match_reference` on the dev label texts,
on generated rules and on arbitrary text.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.match import Matcher
from monitor.match.evaluate import LabelledItem, read_labels
from monitor.match.textnorm import (
    _TABLE,
    fold,
    normalize,
    normalize_fast,
    offset_map,
    split_glued,
)

ROOT = Path(__file__).resolve().parent.parent
_WORD = re.compile(r"[^ ]+")

# Characters that exercise every route: dropped (tatweel, ZWNJ, soft hyphen, harakat),
# expanded (ß, ligatures), Arabic-script variants, digits, curly punctuation.
TRICKY = st.lists(
    st.sampled_from(
        [
            *"aZ09 -'’.,…\u00ad\u200c\u0640\u064fßﬁé½طالبانيكہ٣۴ﺅﷺ\t\n",
            *["TTP", "Kabul ", " attack", "Pakistan", "border", "طالبان", " "],
        ]
    ),
    max_size=40,
).map("".join)


@cache
def dev_items() -> list[LabelledItem]:
    path = ROOT / "tests" / "data" / "labels" / "relevance-dev.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        return read_labels(fh)


def dev_texts() -> list[str]:
    return [t for item in dev_items() for t in (item.title, item.summary)]


def assert_same_spans(text: str) -> None:
    """Every word's span from the lazy map equals the one from the full offset map."""
    full, lazy = normalize(text), offset_map(text)
    assert full.text == normalize_fast(text)
    for m in _WORD.finditer(full.text):
        start, end = m.span()
        assert lazy.span(start, end) == full.span(start, end), (text, start, end)
        # Multi-word spans too (a phrase from this word to the last).
        assert lazy.span(start, len(full.text) - 1) == full.span(start, len(full.text) - 1)


def test_fold_equals_the_table_on_dev_texts() -> None:
    for text in dev_texts():
        assert fold(text) == split_glued(text.translate(_TABLE))


def test_lazy_spans_equal_full_map_on_dev_texts() -> None:
    for text in dev_texts():
        assert_same_spans(text)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), TRICKY))
def test_fold_and_spans_on_any_text(text: str) -> None:
    assert fold(text) == split_glued(text.translate(_TABLE))
    assert_same_spans(text)


def test_fold_routes() -> None:
    assert fold("TTP-Kabul") == "ttp kabul"
    assert fold("Pak\u00adistan’s") == "pakistan s"  # dropped and punctuation, ASCII route
    assert fold("طورخم TTP") == "طورخم ttp"  # another script: the full table
    assert fold("Straße") == "strasse"
    assert fold("𝕊 TTP") == "S ttp"  # NFKD gives an upper-case letter the table keeps


@dataclass(frozen=True)
class Variant:
    title: str
    summary: str
    source: str
    language: str = "en"


def variants() -> list[Variant]:
    out = []
    for i, item in enumerate(dev_items()):
        title = item.title.upper() if i % 3 == 0 else item.title
        out.append(Variant(title, item.summary, item.source, "ur" if i % 5 == 0 else "en"))
    return out


def test_fast_path_equals_reference_with_default_rules() -> None:
    matcher = Matcher.from_file(ROOT / "config" / "rules.toml")
    fired = 0
    for item in variants():
        fast = matcher.match(item)
        assert fast == matcher.match_reference(item), item
        fired += bool(fast)
    assert fired > 100  # the comparison covered items that fire, not only empty results


def generated_rules(n: int, seed: int) -> str:
    """Random rules over the default lexicons: AND, OR, NOT, NEAR, field scopes, prefixes."""
    base = Matcher.from_file(ROOT / "config" / "rules.toml")
    rng = random.Random(seed)
    # Rules are TOML literal strings ('...'): a straight apostrophe in a term ("military's")
    # would end one, so it becomes the curly one, which matching reads as the same.
    vocab = [
        t.source.replace('"', "").replace("'", "’")
        for ts in base.book.lexicons.values()
        for t in ts
    ]
    vocab += ["attack*", "said", "the", "border", "Pak*", "zzz"]
    lines = ["[lexicons]"]
    for name, terms in base.book.lexicons.items():
        lines.append(
            f"{name} = [" + ", ".join('"' + t.source.replace('"', "") + '"' for t in terms) + "]"
        )

    def positive() -> str:
        """A NEAR side: terms, phrases, lexicons or an OR of them."""
        roll = rng.random()
        if roll < 0.3:
            return "@" + rng.choice(sorted(base.book.lexicons))
        if roll < 0.5:
            return f'("{rng.choice(vocab)}" OR @{rng.choice(sorted(base.book.lexicons))})'
        return '"' + rng.choice(vocab) + '"'

    def operand(depth: int = 0) -> str:
        roll = rng.random()
        if roll < 0.15:
            return f"({positive()} NEAR/{rng.randrange(0, 10)} {positive()})"
        if roll < 0.25:
            return "@" + rng.choice(sorted(base.book.lexicons))
        if roll < 0.35 and depth < 2:
            return f"NOT {operand(depth + 1)}"
        if roll < 0.45:
            return f"{rng.choice(['title', 'summary', 'source'])}:({operand(depth + 1)})"
        if roll < 0.55 and depth < 2:
            op = rng.choice(["AND", "OR"])
            return f"({operand(depth + 1)} {op} {operand(depth + 1)})"
        return '"' + rng.choice(vocab) + '"'

    for i in range(n):
        expr = f"{operand()} {rng.choice(['AND', 'OR', 'AND NOT'])} {operand()}"
        lines += ["[[rules]]", f'id = "g{i}"', 'topic = "gen"', f"match = '{expr}'"]
        if i % 4 == 0:
            lines.append(f"exclude = '{operand()}'")
    return "\n".join(lines) + "\n"


def test_fast_path_equals_reference_with_generated_rules() -> None:
    matcher = Matcher.from_text(generated_rules(300, seed=7), "generated")
    items = variants()[::3]
    fired = 0
    for item in items:
        fast = matcher.match(item)
        assert fast == matcher.match_reference(item), item
        fired += len(fast)
    assert fired > 1000


@settings(max_examples=200, deadline=None)
@given(TRICKY, TRICKY, st.sampled_from(["", "Dawn", "ESPNcricinfo"]))
def test_fast_path_equals_reference_on_any_text(title: str, summary: str, source: str) -> None:
    matcher = _small_generated()
    item = Variant(title, summary, source)
    assert matcher.match(item) == matcher.match_reference(item)


@cache
def _small_generated() -> Matcher:
    return Matcher.from_text(generated_rules(60, seed=11), "generated")


def test_spans_after_expansion_and_drop_of_equal_length() -> None:
    # "ß" folds to two characters and the zero-width space to none: the folded text is as long
    # as the original, yet the positions between them are shifted.
    text = "Straße\u200b TTP"
    assert_same_spans(text)
    word = offset_map(text).span(1, 8)
    assert text[word[0] : word[1]] == "Straße\u200b"
