"""The small immutable objects that flow between the pipeline's stages.

Each is named for what it carries; database rows never leave `store`, these do.
All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the scheduler knows about a feed, read from the database."""

    id: int
    name: str
    url: str
    language: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    error_streak: int = 0
    interval_minutes: int | None = None  # None: the configured default


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome of fetching one feed: a body, a not-modified, or an error (never raised)."""

    feed: FeedState
    status: int | None
    body: bytes | None = None
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    final_url: str | None = None
    error: str | None = None
    error_kind: str | None = None
    not_modified: bool = False
    retry_after: float | None = None  # seconds, when the server asked us to wait
    max_age: float | None = None  # Cache-Control max-age, a minimum wait before the next poll

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class Item:
    """One normalized news item, ready to match and store.

    `key` is the identity within its feed: GUID, else canonical link, else a hash of title and
    text. `content_hash` changes when the title or summary is edited.
    """

    feed_id: int
    key: str
    url: str | None
    title: str
    summary: str
    published: datetime | None
    fetched: datetime
    content_hash: str
    source: str = ""  # the outlet's name, for `source:` rules and display
    language: str = ""


class Span(NamedTuple):
    """Where a term matched: field name ("title" or "summary"), character offsets, the text.

    A NamedTuple rather than a dataclass: the matcher makes one per hit, and a tuple is made
    several times faster, which shows in items per second.
    """

    field: str
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Match:
    """One rule that fired on one item, with the spans that made it fire."""

    rule_id: str
    topic: str
    severity: str = "digest"  # "digest" or "alert"
    rule_version: str = ""
    spans: tuple[Span, ...] = ()

    @property
    def terms(self) -> tuple[str, ...]:
        """The distinct matched texts, in order of first appearance."""
        return tuple(dict.fromkeys(s.text for s in self.spans))


@dataclass(frozen=True, slots=True)
class FeedFailure:
    """A feed that failed in a pass, for reports."""

    name: str
    url: str
    error: str
    kind: str = "error"  # a stable label for metrics: timeout, connect, http_5xx, parse, ...
    # For kind "internal" (a fault of ours, not the feed's): the stage that raised.
    stage: str | None = None


@dataclass(frozen=True, slots=True)
class NewMatch:
    """A newly stored item that matched at least one rule, for the pass report."""

    item: Item
    matches: tuple[Match, ...]


@dataclass(frozen=True, slots=True)
class PassReport:
    """What one poll pass did."""

    feeds_polled: int = 0
    new_items: int = 0
    new_matches: int = 0
    matched: tuple[NewMatch, ...] = ()
    failures: tuple[FeedFailure, ...] = ()
    not_modified: int = 0
    notices: tuple[str, ...] = ()  # feeds moved or disabled as duplicates, items dropped


@dataclass(frozen=True, slots=True)
class StoryEntry:
    """One story as a digest shows it."""

    story_id: int
    title: str
    url: str | None
    summary: str
    published: datetime | None
    first_seen: datetime
    outlets: tuple[str, ...]
    topics: tuple[str, ...]
    rules: tuple[str, ...]
    severity: str = "digest"
    terms: tuple[str, ...] = ()
    alerted: bool = False  # already sent to this recipient in an alert email
    highlights: tuple[Span, ...] = ()  # matched spans of `title` and `summary`, original offsets
    update: str | None = None  # what a later report added, when sent again as an update
    language: str = ""  # of the item whose title is shown: direction and fonts in the digest


@dataclass(frozen=True, slots=True)
class Digest:
    """A rendered digest for one recipient."""

    recipient: str
    subject: str
    html: str
    text: str
    story_ids: tuple[int, ...]
    generated: datetime
    message_id: str = ""
    extra: dict[str, str] = field(default_factory=dict)
