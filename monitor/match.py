"""Keyword matching: compiled rules applied to an item's title and summary (pure).

Each rule is a list of terms and phrases, matched case-insensitively on word boundaries.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from monitor.errors import RulesError
from monitor.models import Match, Span


class Matchable(Protocol):
    @property
    def title(self) -> str: ...
    @property
    def summary(self) -> str: ...


@dataclass(frozen=True)
class Rule:
    id: str
    topic: str
    severity: str
    terms: tuple[str, ...]
    text: str
    version: str
    recipients: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None


class Matcher:
    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules

    @classmethod
    def from_file(cls, path: Path) -> Matcher:
        where = str(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise RulesError(where, "", f"cannot read: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise RulesError(where, "", f"not valid TOML: {exc}") from exc
        rules = []
        for i, r in enumerate(raw.get("rules", [])):
            rid = r.get("id", f"rules[{i}]")
            terms = r.get("terms")
            if not isinstance(terms, list) or not terms:
                raise RulesError(where, rid, "expected `terms`, a list of words and phrases")
            text = "\n".join(terms)
            alternation = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
            rules.append(
                Rule(
                    id=rid,
                    topic=r.get("topic", rid),
                    severity=r.get("severity", "digest"),
                    terms=tuple(terms),
                    text=text,
                    version=hashlib.sha256(text.encode()).hexdigest()[:12],
                    pattern=re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", re.IGNORECASE),
                )
            )
        return cls(rules)

    def match(self, item: Matchable) -> list[Match]:
        out = []
        for rule in self.rules:
            assert rule.pattern is not None
            spans = tuple(
                Span(field, m.start(), m.end(), m.group(0))
                for field in ("title", "summary")
                for m in rule.pattern.finditer(getattr(item, field) or "")
            )
            if spans:
                out.append(Match(rule.id, rule.topic, rule.severity, rule.version, spans))
        return out
