"""The pieces a digest is made of, computed from plain data (pure, no I/O).

Snippets with highlighted terms, the 7-day activity per topic and the feed-health lines.
Highlighting works on the original text and its stored offsets: the text is cut into
segments (plain or hit) and the template escapes each segment, so no markup is ever built by
replacing inside escaped HTML.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.models import Span, StoryEntry

# Directional embeddings, overrides and isolates can make text display in another order than
# it is stored (spoofing); marks (LRM, RLM, ALM) only hint direction and are kept in bodies.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
SNIPPET_CHARS = 300


def clean(text: str) -> str:
    """Text for display: no bidi controls, no C0 controls other than tab and newline."""
    text = BIDI_CONTROLS.sub("", text)
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", " ", text)


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of snippet text; `hit` when it is a matched term."""

    text: str
    hit: bool = False


def hit_ranges(text: str, spans: Iterable[Span], field: str, terms: Sequence[str]) -> list[range]:
    """Where matched terms are in `text`: the stored offsets when they still point at the term,
    else (the text was edited, or the offsets are from another version) a word-bounded search."""
    found: list[range] = []
    for s in spans:
        if s.field != field:
            continue
        if (
            0 <= s.start < s.end <= len(text)
            and text[s.start : s.end].casefold() == s.text.casefold()
        ):
            found.append(range(s.start, s.end))
    if not found:
        for term in terms:
            if not term.strip():
                continue
            pattern = re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.IGNORECASE)
            found += [range(m.start(), m.end()) for m in pattern.finditer(text)]
    merged: list[range] = []
    for r in sorted(found, key=lambda r: (r.start, -r.stop)):
        if merged and r.start <= merged[-1].stop:
            last = merged.pop()
            merged.append(range(last.start, max(last.stop, r.stop)))
        else:
            merged.append(r)
    return merged


def segments(text: str, hits: Sequence[range], limit: int = SNIPPET_CHARS) -> tuple[Segment, ...]:
    """`text` cut to about `limit` characters around its first hit, split into segments."""
    start, stop = 0, len(text)
    if len(text) > limit:
        first = hits[0].start if hits else 0
        if first > limit - 80:
            start = _word_start(text, max(0, first - 80))
        stop = _word_end(text, min(len(text), start + limit))
    out: list[Segment] = []
    if start > 0:
        out.append(Segment("… "))
    pos = start
    for r in hits:
        a, b = max(r.start, start), min(r.stop, stop)
        if a >= b:
            continue
        if a > pos:
            out.append(Segment(clean(text[pos:a])))
        out.append(Segment(clean(text[a:b]), hit=True))
        pos = b
    if pos < stop:
        out.append(Segment(clean(text[pos:stop])))
    if stop < len(text):
        out.append(Segment(" …"))
    return tuple(s for s in out if s.text)


def snippet(story: StoryEntry, limit: int = SNIPPET_CHARS) -> tuple[Segment, ...]:
    text = story.summary or ""
    return segments(text, hit_ranges(text, story.highlights, "summary", story.terms), limit)


def _word_start(text: str, i: int) -> int:
    j = text.find(" ", i)
    return j + 1 if 0 <= j < i + 30 else i


def _word_end(text: str, i: int) -> int:
    if i >= len(text):
        return len(text)
    j = text.rfind(" ", 0, i)
    return j if j > i - 40 else i


@dataclass(frozen=True, slots=True)
class DayCount:
    day: date
    count: int
    height: int  # bar height in pixels, 0 for none


@dataclass(frozen=True, slots=True)
class Activity:
    """Stories first seen per day for one topic: this week day by day, and last week's total."""

    topic: str
    title: str
    days: tuple[DayCount, ...]
    this_week: int
    last_week: int

    @property
    def trend(self) -> str:
        """'louder', 'quieter' or 'steady' compared with the week before."""
        if self.this_week >= max(2, round(self.last_week * 1.25) + 1):
            return "louder"
        if self.last_week >= max(2, round(self.this_week * 1.25) + 1):
            return "quieter"
        return "steady"

    @property
    def spark(self) -> str:
        """The week as a text sparkline for the plain-text part."""
        top = max((d.count for d in self.days), default=0)
        bars = " ▁▂▃▄▅▆▇█"
        return "".join(
            bars[0 if not d.count else max(1, round(d.count / top * 8))] for d in self.days
        )


BAR_PX = 36


def activity(
    rows: Iterable[tuple[str, datetime]],
    *,
    now: datetime,
    tz: ZoneInfo,
    titles: dict[str, str],
    topics: Sequence[str] = (),
) -> list[Activity]:
    """Per topic, stories per local day over the last 7 days and the total of the 7 before.

    `rows` are (topic, first seen) pairs; topics with nothing in 14 days are left out unless
    named in `topics`. Bars share one scale so topics compare at a glance.
    """
    today = now.astimezone(tz).date()
    first = today - timedelta(days=13)
    counts: Counter[tuple[str, date]] = Counter()
    for topic, seen in rows:
        day = seen.astimezone(tz).date()
        if first <= day <= today:
            counts[topic, day] += 1
    names = list(dict.fromkeys([*topics, *sorted({t for t, _ in counts})]))
    if topics:
        names = [n for n in names if n in topics]
    week = [today - timedelta(days=i) for i in range(6, -1, -1)]
    top = max((counts[n, d] for n in names for d in week), default=0) or 1
    out = []
    for name in names:
        days = tuple(
            DayCount(
                d,
                counts[name, d],
                max(3, round(counts[name, d] / top * BAR_PX)) if counts[name, d] else 0,
            )
            for d in week
        )
        last = sum(counts[name, today - timedelta(days=i)] for i in range(7, 14))
        out.append(Activity(name, titles.get(name, name), days, sum(d.count for d in days), last))
    return sorted(out, key=lambda a: (-a.this_week, a.title))


@dataclass(frozen=True, slots=True)
class HealthLine:
    name: str
    state: str  # "failing", "gone" or "silent"
    since: datetime | None
    detail: str


def health_lines(health: Iterable[object]) -> list[HealthLine]:
    """Feeds that need attention, from FeedHealth-like rows (extra fields tolerated)."""
    out = []
    for h in health:
        if not getattr(h, "enabled", True):
            continue
        name = clean(str(getattr(h, "name", "?")))
        error = clean(str(getattr(h, "last_error", "") or ""))[:200]
        if getattr(h, "gone", False):
            out.append(HealthLine(name, "gone", getattr(h, "failing_since", None), error))
        elif getattr(h, "error_streak", 0):
            out.append(HealthLine(name, "failing", getattr(h, "failing_since", None), error))
        elif getattr(h, "silent", False):
            since = getattr(h, "silent_since", None) or getattr(h, "last_new_item", None)
            out.append(HealthLine(name, "silent", since, "no new items"))
    order = {"gone": 0, "failing": 1, "silent": 2}
    return sorted(out, key=lambda x: (order.get(x.state, 3), x.name))
