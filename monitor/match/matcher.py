"""The compiled matcher: one Aho–Corasick automaton over every term, then boolean evaluation.

This module owns turning a `RuleBook` into something fast and turning hits into `Match`es.
Every distinct normalised term (from rules and lexicons) is one automaton key framed by
spaces (" ttp ", or " waziristan" for `Waziristan*`), so one pass over an item finds every
term of every rule, whole words only. Only rules with at least one term seen are evaluated;
rules that can be true with no term present (e.g. pure NOT) are evaluated for every item.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import ahocorasick

from monitor.match.language import And, Lexicon, Node, Not, Or, Scoped, Term
from monitor.match.rulebook import Rule, RuleBook, load_rules, parse_rules
from monitor.match.textnorm import SEP, Normalized, normalize, normalize_fast
from monitor.models import Match, Span

TEXT_FIELDS = frozenset({"title", "summary"})  # where an unscoped term may match
_FIELD_ORDER = ("title", "summary", "source", "lang")


class Matchable(Protocol):
    """What `Matcher.match` reads from an item (monitor.models.Item has all four)."""

    @property
    def title(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def language(self) -> str: ...


# Compiled nodes: terms become automaton ids with the fields they may match in.
@dataclass(frozen=True, slots=True)
class _Terms:
    ids: frozenset[int]
    fields: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Not:
    operand: _Node


@dataclass(frozen=True, slots=True)
class _All:
    operands: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _Any:
    operands: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _Near:
    left: _Node
    right: _Node
    distance: int


_Node = _Terms | _Not | _All | _Any | _Near

_SEP_RE = re.compile(SEP)

# A hit: field, start and end of the matched words in the normalised field text.
Hit = tuple[str, int, int]


class _Item:
    """Per-item state: normalised fields, hits per term id, lazily built offset maps."""

    __slots__ = ("_seps", "hits", "norm", "raw")

    def __init__(self, raw: dict[str, str]) -> None:
        self.raw = raw
        self.norm = {name: normalize_fast(text) for name, text in raw.items()}
        self.hits: dict[int, list[Hit]] = {}
        self._seps: dict[str, list[int]] = {}

    def word(self, field: str, pos: int) -> int:
        """Index of the word containing normalised position `pos` (for NEAR)."""
        seps = self._seps.get(field)
        if seps is None:
            seps = self._seps[field] = [m.start() for m in _SEP_RE.finditer(self.norm[field])]
        return bisect_right(seps, pos) - 1


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: Rule
    expr: _Node
    exclude: _Node | None
    always: bool  # can be true with no term present: evaluate for every item


class Matcher:
    """Rules compiled once; `match(item)` returns the rules that fire, with their spans."""

    def __init__(self, book: RuleBook) -> None:
        self.book = book
        self._keys: dict[str, int] = {}
        self._automaton = ahocorasick.Automaton()
        self._lexicons = {name: self._term_ids(terms) for name, terms in book.lexicons.items()}
        compiled = [
            _Compiled(
                rule,
                self._compile(rule.expr, TEXT_FIELDS),
                self._compile(rule.exclude_expr, TEXT_FIELDS) if rule.exclude_expr else None,
                False,
            )
            for rule in book.rules
        ]
        self._compiled = tuple(
            _Compiled(c.rule, c.expr, c.exclude, _true_without_terms(c.expr)) for c in compiled
        )
        self._always = tuple(i for i, c in enumerate(self._compiled) if c.always)
        by_term: dict[int, set[int]] = {}
        for index, c in enumerate(self._compiled):
            for tid in _positive_ids(c.expr):
                by_term.setdefault(tid, set()).add(index)
        self._rules_by_term = {tid: tuple(sorted(r)) for tid, r in by_term.items()}
        if self._keys:
            self._automaton.make_automaton()

    @classmethod
    def from_file(cls, path: Path) -> Matcher:
        """Read, validate and compile a rules file; raises RulesError."""
        return cls(load_rules(path))

    @classmethod
    def from_text(cls, text: str, file: str = "<rules>") -> Matcher:
        """Compile rules given as TOML text (tests, `rules test`)."""
        return cls(parse_rules(text, file))

    @property
    def rules(self) -> Sequence[Rule]:
        return self.book.rules

    @property
    def term_count(self) -> int:
        """Distinct normalised terms in the automaton."""
        return len(self._keys)

    # -- compiling ---------------------------------------------------------------------------

    def _term_id(self, term: Term) -> int:
        key = SEP + term.words + ("" if term.prefix else SEP)
        tid = self._keys.get(key)
        if tid is None:
            tid = self._keys[key] = len(self._keys)
            self._automaton.add_word(key, (tid, len(key), term.prefix))
        return tid

    def _term_ids(self, terms: Sequence[Term]) -> frozenset[int]:
        return frozenset(self._term_id(t) for t in terms)

    def _compile(self, node: Node, fields: frozenset[str]) -> _Node:
        if isinstance(node, Term):
            return _Terms(frozenset({self._term_id(node)}), fields)
        if isinstance(node, Lexicon):
            return _Terms(self._lexicons[node.name], fields)
        if isinstance(node, Scoped):
            return self._compile(node.operand, frozenset({node.field}))
        if isinstance(node, Not):
            return _Not(self._compile(node.operand, fields))
        if isinstance(node, And):
            return _All(tuple(self._compile(n, fields) for n in node.operands))
        if isinstance(node, Or):
            return _merge_terms(tuple(self._compile(n, fields) for n in node.operands))
        return _Near(
            self._compile(node.left, fields), self._compile(node.right, fields), node.distance
        )

    # -- matching ----------------------------------------------------------------------------

    def match(self, item: Matchable) -> list[Match]:
        """The rules that fire on `item`, in rules-file order. Never raises on any text."""
        state = _Item(
            {
                "title": item.title or "",
                "summary": item.summary or "",
                "source": getattr(item, "source", "") or "",
                "lang": getattr(item, "language", "") or "",
            }
        )
        candidates: set[int] = set(self._always)
        if self._keys:
            for field, text in state.norm.items():
                for end, (tid, length, prefix) in self._automaton.iter(text):
                    # `end` is the last key character: the closing space, or a word character
                    # for a prefix key, whose word then runs to the next space.
                    stop = text.find(SEP, end + 1) if prefix else end
                    state.hits.setdefault(tid, []).append((field, end - length + 2, stop))
                    rules = self._rules_by_term.get(tid)
                    if rules:
                        candidates.update(rules)
        matches: list[Match] = []
        for index in sorted(candidates):
            c = self._compiled[index]
            ok, hits = _evaluate(c.expr, state)
            if not ok or (c.exclude is not None and _evaluate(c.exclude, state)[0]):
                continue
            matches.append(
                Match(
                    rule_id=c.rule.id,
                    topic=c.rule.topic,
                    severity=c.rule.severity,
                    rule_version=c.rule.version,
                    spans=_spans(state, hits),
                )
            )
        return matches


def _evaluate(node: _Node, state: _Item) -> tuple[bool, list[Hit]]:
    """Truth of `node` for the item, and the hits that support it (for spans)."""
    if isinstance(node, _Terms):
        seen = state.hits
        # Walk whichever side is smaller: a lexicon may have hundreds of ids, an item few hits.
        ids = [t for t in seen if t in node.ids] if len(seen) < len(node.ids) else node.ids
        found = [h for tid in ids for h in seen.get(tid, ()) if h[0] in node.fields]
        return bool(found), found
    if isinstance(node, _Not):
        return not _evaluate(node.operand, state)[0], []
    if isinstance(node, _All):
        hits: list[Hit] = []
        for operand in node.operands:
            ok, found = _evaluate(operand, state)
            if not ok:
                return False, []
            hits.extend(found)
        return True, hits
    if isinstance(node, _Any):
        hits = []
        any_ok = False
        for operand in node.operands:
            ok, found = _evaluate(operand, state)
            any_ok = any_ok or ok
            hits.extend(found)
        return any_ok, hits
    left_ok, left = _evaluate(node.left, state)
    right_ok, right = _evaluate(node.right, state)
    if not (left_ok and right_ok):
        return False, []
    near: list[Hit] = []
    for a in left:
        for b in right:
            if a[0] != b[0]:
                continue
            first, second = (a, b) if a[1] <= b[1] else (b, a)
            gap = state.word(first[0], second[1]) - state.word(first[0], first[2] - 1)
            if gap <= node.distance:
                near.extend((a, b))
    return bool(near), near


def _spans(state: _Item, hits: list[Hit]) -> tuple[Span, ...]:
    """Hits in the title and summary as spans into the original text, in reading order."""
    unique = sorted(
        {h for h in hits if h[0] in TEXT_FIELDS},
        key=lambda h: (_FIELD_ORDER.index(h[0]), h[1], h[2]),
    )
    maps: dict[str, Normalized] = {}
    spans: list[Span] = []
    for field, start, end in unique:
        norm = maps.get(field)
        if norm is None:
            norm = maps[field] = normalize(state.raw[field])
        o_start, o_end = norm.span(start, end)
        spans.append(Span(field, o_start, o_end, state.raw[field][o_start:o_end]))
    return tuple(spans)


def _true_without_terms(node: _Node) -> bool:
    """Whether the node can be true for an item in which none of its terms occur."""
    if isinstance(node, _Terms | _Near):
        return False
    if isinstance(node, _Not):
        return True
    if isinstance(node, _All):
        return all(_true_without_terms(n) for n in node.operands)
    return any(_true_without_terms(n) for n in node.operands)


def _positive_ids(node: _Node) -> set[int]:
    """Term ids outside any NOT: seeing one of them makes the rule a candidate."""
    if isinstance(node, _Terms):
        return set(node.ids)
    if isinstance(node, _Not):
        return set()
    if isinstance(node, _Near):
        return _positive_ids(node.left) | _positive_ids(node.right)
    return set().union(*(_positive_ids(n) for n in node.operands))


def _merge_terms(operands: tuple[_Node, ...]) -> _Node:
    """An OR of plain term sets in the same fields is one term set: fewer nodes to evaluate."""
    terms = [n for n in operands if isinstance(n, _Terms)]
    rest = [n for n in operands if not isinstance(n, _Terms)]
    merged: dict[frozenset[str], frozenset[int]] = {}
    for t in terms:
        merged[t.fields] = merged.get(t.fields, frozenset()) | t.ids
    nodes = [_Terms(ids, fields) for fields, ids in merged.items()] + rest
    return nodes[0] if len(nodes) == 1 else _Any(tuple(nodes))
