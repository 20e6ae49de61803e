"""The compiled matcher: one Aho–Corasick automaton over every term, then boolean evaluation.

This module owns turning a `RuleBook` into something fast and turning hits into `Match`es.
Every distinct normalised term (from rules and lexicons) is one automaton key framed by
spaces (" ttp ", or " waziristan" for `Waziristan*`), so one pass over an item finds every
term of every rule, whole words only. Only rules with at least one term seen are evaluated;
rules that can be true with no term present (e.g. pure NOT) are evaluated for every item.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import ahocorasick

from monitor.match.language import And, Lexicon, Node, Not, Or, Scoped, Term
from monitor.match.rulebook import Rule, RuleBook, load_rules, parse_rules
from monitor.match.textnorm import (
    SEP,
    Normalized,
    OffsetMap,
    fold,
    frame,
    normalize,
    normalize_fast,
    term_variants,
)
from monitor.models import Match, Span

TEXT_FIELDS = frozenset({"title", "summary"})  # where an unscoped term may match


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

# A hit: field, start and end of the matched words in the normalised field text.
Hit = tuple[str, int, int]

# A "seen" key is term id * 4 + field index: one int per (term, field) found in an item.
_FIELDS = ("title", "summary", "source", "lang")
_FIELD_INDEX = {name: i for i, name in enumerate(_FIELDS)}

# What the automaton stores per key: (term id * 4, key length, prefix key?, term id).
_Value = tuple[int, int, bool, int]
_Predicate = Callable[[set[int], "_Lazy"], bool]


class _Item:
    """Per-item state for spans and NEAR: normalised fields, hits per term id."""

    __slots__ = ("folded", "hits", "maps", "near", "norm", "raw", "spans")

    def __init__(self, raw: dict[str, str], norm: dict[str, str] | None = None) -> None:
        self.raw = raw
        self.folded: dict[str, str] = {}  # `fold` of title and summary, kept from matching
        self.maps: dict[str, OffsetMap | Normalized] = {}  # offset maps, built on first span
        self.spans: dict[Hit, Span] = {}  # one Span per hit, shared by the rules that fire
        self.near: dict[int, tuple[bool, list[Hit]]] = {}  # NEAR results by node id
        self.norm = norm or {name: normalize_fast(text) for name, text in raw.items()}
        self.hits: dict[int, list[Hit]] = {}

    def word(self, field: str, pos: int) -> int:
        """Index of the word containing normalised position `pos` (for NEAR)."""
        return self.norm[field].count(SEP, 0, pos + 1) - 1


class _Lazy:
    """What the hot path has of an item; builds the full `_Item` only if a rule needs it."""

    __slots__ = ("_item", "folded", "found", "norm", "raw")

    def __init__(
        self,
        raw: tuple[str, ...],
        folded: tuple[str, str],
        norm: tuple[str, ...],
        found: tuple[list[tuple[int, _Value]], ...],
    ) -> None:
        self.raw, self.folded, self.norm, self.found = raw, folded, norm, found
        self._item: _Item | None = None

    def item(self) -> _Item:
        if self._item is None:
            raw = dict(zip(_FIELDS, self.raw, strict=True))
            state = self._item = _Item(raw, dict(zip(_FIELDS, self.norm, strict=True)))
            state.folded = {"title": self.folded[0], "summary": self.folded[1]}
            hits = state.hits
            for field, text, found in zip(_FIELDS, self.norm, self.found, strict=False):
                for end, (_, length, prefix, tid) in found:
                    # `end` is the last key character: the closing space, or a word character
                    # for a prefix key, whose word then runs to the next space.
                    stop = text.find(SEP, end + 1) if prefix else end
                    hit = (field, end - length + 2, stop)
                    if tid in hits:
                        hits[tid].append(hit)
                    else:
                        hits[tid] = [hit]
        return self._item


@dataclass(frozen=True, slots=True)
class _Compiled:
    rule: Rule
    expr: _Node
    exclude: _Node | None
    test: _Predicate  # the expression as a closure over the "seen" keys
    test_exclude: _Predicate | None


class Matcher:
    """Rules compiled once; `match(item)` returns the rules that fire, with their spans."""

    def __init__(self, book: RuleBook) -> None:
        self.book = book
        self._keys: dict[str, int] = {}  # automaton key -> term id
        self._ids: list[str] = []  # term id -> its key as written
        self._automaton = ahocorasick.Automaton()
        self._lexicons = {name: self._term_ids(terms) for name, terms in book.lexicons.items()}
        compiled = []
        for rule in book.rules:
            expr = self._compile(rule.expr, TEXT_FIELDS)
            exclude = self._compile(rule.exclude_expr, TEXT_FIELDS) if rule.exclude_expr else None
            compiled.append(
                _Compiled(
                    rule,
                    expr,
                    exclude,
                    _predicate(expr),
                    _predicate(exclude) if exclude is not None else None,
                )
            )
        self._compiled = tuple(compiled)
        # Each rule is evaluated only when one of its trigger keys is seen: a set of
        # (term, field) keys at least one of which any item that fires the rule contains.
        # Rules without one (e.g. pure NOT) are evaluated for every item.
        always: list[int] = []
        by_key: dict[int, list[int]] = {}
        for index, c in enumerate(self._compiled):
            keys = _triggers(c.expr)
            if keys is None:
                always.append(index)
                continue
            for key in keys:
                by_key.setdefault(key, []).append(index)
        self._always = tuple(always)
        self._rules_by_key = {key: tuple(rules) for key, rules in by_key.items()}
        self._iter = self._automaton.iter
        self._scan_meta = any(
            _scoped_outside_text(c.expr)
            or (c.exclude is not None and _scoped_outside_text(c.exclude))
            for c in self._compiled
        )
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
        """Distinct normalised terms in the automaton (a term's spellings count once)."""
        return len(self._ids)

    # -- compiling ---------------------------------------------------------------------------

    def _term_id(self, term: Term) -> int:
        # One id per term, whichever of its solid-or-apart spellings an item uses; a term
        # that is a spelling of one seen before ("دہشتگرد" after "دہشت گرد") shares its id.
        end = "" if term.prefix else SEP
        keys = [SEP + words + end for words in term_variants(term.words)]
        for key in keys:
            if key in self._keys:
                tid = self._keys[key]
                break
        else:
            tid = len(self._ids)
            self._ids.append(keys[0])
        for key in keys:
            if key not in self._keys:
                self._keys[key] = tid
                self._automaton.add_word(key, (tid * 4, len(key), term.prefix, tid))
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
        raw = (
            item.title or "",
            item.summary or "",
            getattr(item, "source", "") or "",
            getattr(item, "language", "") or "",
        )
        folded = (fold(raw[0]), fold(raw[1]))
        norm = (frame(folded[0]), frame(folded[1]), _short(raw[2]), _short(raw[3]))
        # Seen keys: term id * 4 + field index, for every term found in every field.
        found: tuple[list[tuple[int, _Value]], ...] = ()
        seen: set[int] = set()
        if self._keys:
            scan = self._iter
            found = (list(scan(norm[0])), list(scan(norm[1])))
            seen = {v[0] for _, v in found[0]}
            seen.update([v[0] + 1 for _, v in found[1]])
            if self._scan_meta:  # source and lang only when some rule scopes a term to them
                found += (list(scan(norm[2])), list(scan(norm[3])))
                seen.update([v[0] + 2 for _, v in found[2]])
                seen.update([v[0] + 3 for _, v in found[3]])
        candidates: set[int] = set(self._always)
        by_key = self._rules_by_key
        for key in seen:
            rules = by_key.get(key)
            if rules:
                candidates.update(rules)
        if not candidates:
            return []
        lazy = _Lazy(raw, folded, norm, found)
        matches: list[Match] = []
        for index in sorted(candidates):
            c = self._compiled[index]
            if not c.test(seen, lazy) or (c.test_exclude and c.test_exclude(seen, lazy)):
                continue
            # Only now, for a rule that fired: the hits that support it, mapped to spans.
            state = lazy.item()
            matches.append(
                Match(
                    rule_id=c.rule.id,
                    topic=c.rule.topic,
                    severity=c.rule.severity,
                    rule_version=c.rule.version,
                    spans=_spans(state, _evaluate(c.expr, state)[1]),
                )
            )
        return matches

    def match_reference(self, item: Matchable) -> list[Match]:
        """`match` the slow, obvious way: every rule evaluated on hits, full offset maps.

        For tests only: the fast path must give exactly the same matches and spans.
        """
        state = _Item(
            {
                "title": item.title or "",
                "summary": item.summary or "",
                "source": getattr(item, "source", "") or "",
                "lang": getattr(item, "language", "") or "",
            }
        )
        if self._keys:
            for field, text in state.norm.items():
                for end, (_, length, prefix, tid) in self._automaton.iter(text):
                    stop = text.find(SEP, end + 1) if prefix else end
                    state.hits.setdefault(tid, []).append((field, end - length + 2, stop))
        matches: list[Match] = []
        for c in self._compiled:
            ok, hits = _evaluate(c.expr, state)
            if not ok or (c.exclude is not None and _evaluate(c.exclude, state)[0]):
                continue
            spans = _spans(state, hits, reference=True)
            matches.append(Match(c.rule.id, c.rule.topic, c.rule.severity, c.rule.version, spans))
        return matches


@lru_cache(maxsize=1024)
def _short(text: str) -> str:
    """`normalize_fast` for source and language names, which repeat from item to item."""
    return normalize_fast(text)


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
    # A rule that fires is evaluated twice (truth, then spans): work out each NEAR once.
    done = state.near.get(id(node))
    if done is None:
        done = state.near[id(node)] = _near(node, state)
    return done


def _near(node: _Near, state: _Item) -> tuple[bool, list[Hit]]:
    left_ok, left = _evaluate(node.left, state)
    right_ok, right = _evaluate(node.right, state)
    if not (left_ok and right_ok):
        return False, []
    # Word indices of each hit's first and last word, once per hit rather than per pair.
    word = state.word
    lw = [(a, word(a[0], a[1]), word(a[0], a[2] - 1)) for a in left]
    rw = [(b, word(b[0], b[1]), word(b[0], b[2] - 1)) for b in right]
    distance = node.distance
    near: list[Hit] = []
    for a, a_first, a_last in lw:
        for b, b_first, b_last in rw:
            if a[0] != b[0]:
                continue
            gap = b_first - a_last if a[1] <= b[1] else a_first - b_last
            if gap <= distance:
                near.extend((a, b))
    return bool(near), near


def _spans(state: _Item, hits: list[Hit], reference: bool = False) -> tuple[Span, ...]:
    """Hits in the title and summary as spans into the original text, in reading order.

    Offset maps are built on the first span in a field, from the folded text kept from
    matching (`OffsetMap`), or as full per-character maps for the reference path.
    """
    unique = sorted({h for h in hits if h[0] in TEXT_FIELDS}, key=_reading_order)
    made = state.spans
    spans: list[Span] = []
    for hit in unique:
        span = made.get(hit)
        if span is None:
            field, start, end = hit
            text = state.raw[field]
            mapping = state.maps.get(field)
            if mapping is None:
                if reference:
                    mapping = normalize(text)
                else:
                    folded = state.folded.get(field)
                    mapping = OffsetMap(text, fold(text) if folded is None else folded)
                state.maps[field] = mapping
            o_start, o_end = mapping.span(start, end)
            span = made[hit] = Span(field, o_start, o_end, text[o_start:o_end])
        spans.append(span)
    return tuple(spans)


def _reading_order(hit: Hit) -> tuple[bool, int, int]:
    """Title before summary, then by position."""
    return hit[0] != "title", hit[1], hit[2]


def _triggers(node: _Node) -> frozenset[int] | None:
    """Seen keys at least one of which is in any item the node is true for; None if none.

    An AND needs only one operand's keys (the fewest); an OR needs all of them; a NEAR needs
    both sides, so either side's keys will do.
    """
    if isinstance(node, _Terms):
        return _seen_keys(node)
    if isinstance(node, _Not):
        return None
    if isinstance(node, _Any):
        keys: set[int] = set()
        for n in node.operands:
            found = _triggers(n)
            if found is None:
                return None
            keys |= found
        return frozenset(keys)
    operands = (node.left, node.right) if isinstance(node, _Near) else node.operands
    options = [k for k in map(_triggers, operands) if k is not None]
    return min(options, key=len) if options else None


def _scoped_outside_text(node: _Node) -> bool:
    """Whether a term of the node may match in source or lang."""
    if isinstance(node, _Terms):
        return not node.fields <= TEXT_FIELDS
    if isinstance(node, _Not):
        return _scoped_outside_text(node.operand)
    if isinstance(node, _Near):
        return _scoped_outside_text(node.left) or _scoped_outside_text(node.right)
    return any(_scoped_outside_text(n) for n in node.operands)


def _seen_keys(node: _Terms) -> frozenset[int]:
    return frozenset(tid * 4 + _FIELD_INDEX[f] for tid in node.ids for f in node.fields)


def _predicate(node: _Node) -> _Predicate:
    """The node's truth as a closure over the seen keys (and the item, for NEAR)."""
    if isinstance(node, _Terms):
        keys = _seen_keys(node)
        if len(keys) == 1:
            (key,) = keys
            return lambda seen, lazy: key in seen
        disjoint = keys.isdisjoint
        return lambda seen, lazy: not disjoint(seen)
    if isinstance(node, _Not):
        inner = _predicate(node.operand)
        return lambda seen, lazy: not inner(seen, lazy)
    if isinstance(node, _Near):
        left, right = _predicate(node.left), _predicate(node.right)
        near = node

        def test_near(seen: set[int], lazy: _Lazy) -> bool:
            # Positions only when both sides are there at all.
            return left(seen, lazy) and right(seen, lazy) and _evaluate(near, lazy.item())[0]

        return test_near
    tests = tuple(_predicate(n) for n in node.operands)
    if isinstance(node, _All):
        if len(tests) == 2:
            a, b = tests
            return lambda seen, lazy: a(seen, lazy) and b(seen, lazy)
        return lambda seen, lazy: all(t(seen, lazy) for t in tests)
    if len(tests) == 2:
        a, b = tests
        return lambda seen, lazy: a(seen, lazy) or b(seen, lazy)
    return lambda seen, lazy: any(t(seen, lazy) for t in tests)


def _merge_terms(operands: tuple[_Node, ...]) -> _Node:
    """An OR of plain term sets in the same fields is one term set: fewer nodes to evaluate."""
    terms = [n for n in operands if isinstance(n, _Terms)]
    rest = [n for n in operands if not isinstance(n, _Terms)]
    merged: dict[frozenset[str], frozenset[int]] = {}
    for t in terms:
        merged[t.fields] = merged.get(t.fields, frozenset()) | t.ids
    nodes = [_Terms(ids, fields) for fields, ids in merged.items()] + rest
    return nodes[0] if len(nodes) == 1 else _Any(tuple(nodes))
