"""Loading and validating a rules file (TOML) into immutable `Rule` objects.

This module owns the file format documented in docs/rules.md: a `[lexicons]` table of named
term lists and a `[[rules]]` array. Every problem becomes a `RulesError` naming the file, the
rule (or lexicon) and, for expressions, the character position. It reads no file itself
except in `load_rules`.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.errors import RulesError
from monitor.match.language import (
    ExpressionError,
    Node,
    Term,
    lexicons_used,
    parse,
)
from monitor.match.textnorm import normalize_term

SEVERITIES = ("digest", "alert")
_ID = re.compile(r"[a-z0-9][a-z0-9_.-]*$")
_LEXICON_NAME = re.compile(r"[a-z0-9_]+$")
_RULE_KEYS = frozenset({"id", "topic", "severity", "match", "exclude", "recipients"})


@dataclass(frozen=True, slots=True)
class Rule:
    """One validated rule. `version` is a short hash of `text` and `exclude`."""

    id: str
    topic: str
    severity: str
    text: str
    exclude: str
    recipients: tuple[str, ...]
    version: str
    expr: Node
    exclude_expr: Node | None


@dataclass(frozen=True, slots=True)
class RuleBook:
    """A whole rules file: lexicons (name -> terms) and rules in file order."""

    file: str
    lexicons: Mapping[str, tuple[Term, ...]]
    rules: tuple[Rule, ...]


def rule_version(text: str, exclude: str = "") -> str:
    """Short stable hash of a rule's expression and exclusion, stored with every match."""
    return hashlib.sha256(f"{text}\x00{exclude}".encode()).hexdigest()[:10]


def load_rules(path: Path) -> RuleBook:
    """Read and validate a rules file; raises RulesError."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(str(path), "", f"cannot read rules file: {exc.strerror or exc}") from exc
    return parse_rules(text, str(path))


def parse_rules(text: str, file: str = "<rules>") -> RuleBook:
    """Validate rules given as TOML text; `file` is only used in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(file, "", f"invalid TOML: {exc}") from exc
    unknown = set(data) - {"lexicons", "rules"}
    if unknown:
        raise RulesError(file, "", f"unknown keys {sorted(unknown)}: expected lexicons, rules")
    lexicons = _lexicons(file, data.get("lexicons", {}))
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list) or not raw_rules:
        raise RulesError(file, "", "expected at least one [[rules]] entry")
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_rules):
        rule = _rule(file, index, raw, lexicons)
        if rule.id in seen:
            raise RulesError(file, rule.id, "duplicate rule id")
        seen.add(rule.id)
        rules.append(rule)
    return RuleBook(file, lexicons, tuple(rules))


def _lexicons(file: str, raw: Any) -> dict[str, tuple[Term, ...]]:
    if not isinstance(raw, dict):
        raise RulesError(file, "", "[lexicons] must be a table of name = [terms]")
    out: dict[str, tuple[Term, ...]] = {}
    includes: dict[str, list[str]] = {}
    for name, entries in raw.items():
        where = f"@{name}"
        if not _LEXICON_NAME.match(name):
            raise RulesError(file, where, "lexicon names use lower-case letters, digits and '_'")
        if not isinstance(entries, list) or not entries:
            raise RulesError(file, where, "expected a non-empty list of terms")
        terms: list[Term] = []
        includes[name] = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, str):
                raise RulesError(file, where, f"entry {i + 1}: expected a string, found {entry!r}")
            if entry.startswith("@"):
                # Another lexicon's terms: one concept's lexicon gathers its languages'.
                if entry[1:] not in raw:
                    problem = f"entry {i + 1} {entry!r}: unknown lexicon"
                    raise RulesError(file, where, problem)
                includes[name].append(entry[1:])
                continue
            prefix = entry.endswith("*")
            body = entry[:-1] if prefix else entry
            words = normalize_term(body)
            if not words or "*" in body:
                problem = f"entry {i + 1} {entry!r}: expected words, then an optional final '*'"
                raise RulesError(file, where, problem)
            terms.append(Term(words, prefix, entry, 0))
        out[name] = tuple(terms)
    return {name: _with_includes(file, name, out, includes, ()) for name in out}


def _with_includes(
    file: str,
    name: str,
    own: Mapping[str, tuple[Term, ...]],
    includes: Mapping[str, list[str]],
    path: tuple[str, ...],
) -> tuple[Term, ...]:
    """A lexicon's own terms, then those of the lexicons it includes, recursively."""
    if name in path:
        cycle = " -> ".join(f"@{n}" for n in (*path, name))
        raise RulesError(file, f"@{path[0]}", f"lexicons include each other: {cycle}")
    terms = list(own[name])
    for other in includes[name]:
        terms.extend(_with_includes(file, other, own, includes, (*path, name)))
    return tuple(terms)


def _str(file: str, rule_id: str, raw: dict[str, Any], key: str, default: str | None) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str) or (default is None and not value.strip()):
        raise RulesError(file, rule_id, f"expected a non-empty string for {key!r}")
    return value


def _rule(file: str, index: int, raw: Any, lexicons: Mapping[str, tuple[Term, ...]]) -> Rule:
    if not isinstance(raw, dict):
        raise RulesError(file, f"#{index + 1}", "each [[rules]] entry must be a table")
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not _ID.match(rule_id):
        raise RulesError(
            file, f"#{index + 1}", "expected an id of lower-case letters, digits, '-', '_' or '.'"
        )
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise RulesError(file, rule_id, f"unknown keys {sorted(unknown)}")
    topic = _str(file, rule_id, raw, "topic", None)
    severity = _str(file, rule_id, raw, "severity", "digest")
    if severity not in SEVERITIES:
        raise RulesError(file, rule_id, f"expected severity digest or alert, found {severity!r}")
    text = _str(file, rule_id, raw, "match", None)
    exclude = _str(file, rule_id, raw, "exclude", "")
    recipients = raw.get("recipients", [])
    if not isinstance(recipients, list) or not all(isinstance(r, str) and r for r in recipients):
        raise RulesError(file, rule_id, "expected 'recipients' to be a list of addresses")
    expr = _expression(file, rule_id, text, "match", lexicons)
    exclude_expr = _expression(file, rule_id, exclude, "exclude", lexicons) if exclude else None
    return Rule(
        id=rule_id,
        topic=topic,
        severity=severity,
        text=text,
        exclude=exclude,
        recipients=tuple(recipients),
        version=rule_version(text, exclude),
        expr=expr,
        exclude_expr=exclude_expr,
    )


def _expression(
    file: str, rule_id: str, text: str, key: str, lexicons: Mapping[str, tuple[Term, ...]]
) -> Node:
    try:
        node = parse(text)
    except ExpressionError as exc:
        raise RulesError(file, rule_id, f"{exc.problem} (in {key})", exc.position) from exc
    for lex in lexicons_used(node):
        if lex.name not in lexicons:
            known = ", ".join(f"@{n}" for n in sorted(lexicons)) or "none defined"
            raise RulesError(
                file, rule_id, f"unknown lexicon '@{lex.name}' (in {key}; known: {known})", lex.pos
            )
    return node
