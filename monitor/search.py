"""What an analyst asks the archive: the search query language and the filters, parsed.

Pure: no I/O. `parse_query` turns the text of the search box into words, "phrases" and
field filters (`outlet:`, `topic:`, `severity:`, `since:`, `until:`); `make_filters`
combines it with the page's query parameters. A query that cannot be read raises
`QueryError`, which says at which character and why. `fts5_match` writes the SQLite FTS5
expression; PostgreSQL gets the words and phrases as bound parameters (monitor.store.search).
Every word is quoted on the way to FTS5, so its operators (AND, OR, NEAR, *, ^, column
filters) are only ever text to look for.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from monitor.errors import QueryError

FIELDS = ("outlet", "topic", "severity", "since", "until")
SEVERITIES = ("alert", "digest")
# How fast relevance gives way to recency: a story this many days older needs twice the
# relevance to rank level with a new one (monitor.store.search applies it in SQL).
RECENCY_HALF_DAYS = 30.0


@dataclass(frozen=True, slots=True)
class Filters:
    """What to search for and which stories to keep. Dates are inclusive UTC days:
    `until` 2026-08-13 keeps stories first seen on that day."""

    words: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()  # each phrase as its words, in order
    outlet: str | None = None
    topic: str | None = None
    severity: str | None = None
    since: date | None = None
    until: date | None = None

    @property
    def has_text(self) -> bool:
        return bool(self.words or self.phrases)

    @property
    def since_time(self) -> datetime | None:
        return None if self.since is None else datetime.combine(self.since, time(), UTC)

    @property
    def before_time(self) -> datetime | None:
        """The first moment after `until`."""
        if self.until is None:
            return None
        return datetime.combine(self.until + timedelta(days=1), time(), UTC)


def _searchable(word: str) -> bool:
    # A word of punctuation alone is no word to either index (both drop it when indexing).
    return any(c.isalnum() for c in word)


def _words(text: str) -> tuple[str, ...]:
    return tuple(w for w in text.split() if _searchable(w))


def parse_query(text: str) -> Filters:
    """Words, "phrases" and `field:value` filters (a value may be "quoted"). A word that
    looks like a field but names none (`10:30`) is a word."""
    words: list[str] = []
    phrases: list[tuple[str, ...]] = []
    found: dict[str, tuple[str, int]] = {}
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start = i
        if text[i] == '"':
            value, i = _quoted(text, i)
            phrase = _words(value)
            if len(phrase) == 1:
                words.append(phrase[0])
            elif phrase:
                phrases.append(phrase)
            continue
        while i < n and not text[i].isspace() and text[i] != '"':
            i += 1
        token = text[start:i]
        name, colon, value = token.partition(":")
        if colon and name.lower() in FIELDS:
            key = name.lower()
            if not value and i < n and text[i] == '"':
                value, i = _quoted(text, i)
            if not value.strip():
                raise QueryError(f"{key}: needs a value, as in {key}:{_EXAMPLE[key]}", start + 1)
            if key in found:
                raise QueryError(f"{key}: is given twice", start + 1)
            found[key] = (value.strip(), start + 1)
            continue
        if _searchable(token):
            words.append(token)
    filters = Filters(words=tuple(words), phrases=tuple(phrases))
    for key, (value, at) in found.items():
        filters = _with(filters, key, value, "q", at)
    return filters


_EXAMPLE = {
    "outlet": '"Dawn — Pakistan"',
    "topic": "security",
    "severity": "alert",
    "since": "2026-08-01",
    "until": "2026-08-31",
}


def _quoted(text: str, i: int) -> tuple[str, int]:
    """The text of the quoted string opening at `i`, and the index after its closing quote."""
    end = text.find('"', i + 1)
    if end < 0:
        raise QueryError('this quote is never closed (add a closing ")', i + 1)
    return text[i + 1 : end], end + 1


def _with(filters: Filters, key: str, value: str, source: str, at: int | None = None) -> Filters:
    """`filters` with field `key` set from its text form; QueryError when it cannot be read."""
    if key in ("since", "until"):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise QueryError(
                f"{key}: expected a date like {_EXAMPLE[key]}, got {value!r}", at, source
            ) from None
        filters = replace(filters, since=day) if key == "since" else replace(filters, until=day)
        if filters.since and filters.until and filters.since > filters.until:
            raise QueryError(
                f"since ({filters.since}) is after until ({filters.until})", at, source
            )
        return filters
    if key == "severity":
        if value.lower() not in SEVERITIES:
            raise QueryError(
                f"severity: expected one of {', '.join(SEVERITIES)}, got {value!r}", at, source
            )
        return replace(filters, severity=value.lower())
    return replace(filters, outlet=value) if key == "outlet" else replace(filters, topic=value)


def make_filters(q: str = "", **params: str | None) -> Filters:
    """The search box's query and the page's filter parameters (outlet, topic, severity,
    since, until) as one `Filters`; a field given in both must agree."""
    filters = parse_query(q)
    for key in FIELDS:
        raw = params.get(key)
        if raw is None or not raw.strip():
            continue
        value = raw.strip()
        before = getattr(filters, key)
        changed = _with(filters, key, value, key)
        if before is not None and getattr(changed, key) != before:
            raise QueryError(
                f"{key} is given both in the query and as a filter, differently", None, key
            )
        filters = changed
    return filters


def fts5_match(filters: Filters) -> str:
    """The FTS5 MATCH expression of the words and phrases: all of them, each quoted."""

    def quote(words: tuple[str, ...]) -> str:
        return '"' + " ".join(words).replace('"', '""') + '"'

    return " ".join([quote((w,)) for w in filters.words] + [quote(p) for p in filters.phrases])


def query_text(filters: Filters) -> str:
    """The search box's text that means `filters` (the feed links of a search carry it)."""
    parts = list(filters.words) + ['"' + " ".join(p) + '"' for p in filters.phrases]
    return " ".join(parts)


def outlets_label(outlets: tuple[str, ...] | list[str], shown: int = 2) -> str:
    """ "Dawn, Geo +3": the first outlets by name, then how many more."""
    head = ", ".join(outlets[:shown])
    rest = len(outlets) - shown
    return f"{head} +{rest}" if rest > 0 else head


def highlight(text: str, spans: list[tuple[int, int]]) -> list[tuple[str, bool]]:
    """`text` cut into (piece, matched) runs at the matched character spans; overlapping
    spans: the first one wins (as `monitor rules explain` shows them). Spans that do not
    fit the text are dropped rather than cutting it wrongly."""
    out: list[tuple[str, bool]] = []
    at = 0
    for start, end in sorted(spans, key=lambda s: (s[0], -s[1])):
        if start < at or start < 0 or end > len(text) or end <= start:
            continue
        if start > at:
            out.append((text[at:start], False))
        out.append((text[start:end], True))
        at = end
    if at < len(text) or not out:
        out.append((text[at:], False))
    return out


def safe_link(url: str | None) -> str | None:
    """`url` when it is an absolute http or https URL without spaces or control characters
    (a link an analyst may follow), else None: feed text decides links, and a
    `javascript:` or `data:` one must never become one."""
    if not url:
        return None
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return None
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest or rest[0] in "/\\":
        return None
    return url
