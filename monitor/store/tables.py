"""The database schema: SQLModel tables, and the small helpers every store module uses
(`table_of`, `chunks`). Rows of these classes never leave `monitor.store`.

Identity and idempotence are enforced by unique indexes (feed+key for items, recipient+story
for delivered stories), never by check-then-insert. All datetimes are stored as UTC.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

_T = TypeVar("_T")


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A DateTime that is always timezone-aware UTC in Python, whatever the backend keeps."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware datetimes")
        value = value.astimezone(UTC)
        # SQLite keeps no zone: store the naive UTC wall time and re-attach UTC on the way out.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Bind parameters of one list in one statement. A list of unbounded length (the keys of a
# feed document, the ids of a pass) always goes through `chunks`: SQLite refuses a statement
# of more than 32,766 variables ("too many SQL variables"), PostgreSQL one of more than
# 65,535, and two lists of this size in one statement stay far below either.
CHUNK = 500


def chunks(values: Sequence[_T], size: int = CHUNK) -> Iterator[Sequence[_T]]:
    """`values` in slices of at most `size`, for statements with a bound on their parameters."""
    for i in range(0, len(values), size):
        yield values[i : i + size]


def table_of(model: type[Any]) -> sa.Table:
    """The Core table of a SQLModel class (for bulk statements)."""
    return model.__table__  # type: ignore[no-any-return]


def _dt(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


class Feed(SQLModel, table=True):
    __tablename__ = "feed"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_column_kwargs={"unique": True}, max_length=2048)
    name: str = Field(max_length=300)
    language: str = Field(default="en", max_length=20)
    note: str = Field(default="", max_length=1000)
    enabled: bool = True
    gone: bool = False
    interval_minutes: int | None = None
    etag: str | None = Field(default=None, max_length=1000)
    last_modified: str | None = Field(default=None, max_length=200)
    body_hash: str | None = Field(default=None, max_length=64)
    last_checked: datetime | None = _dt(default=None)
    last_success: datetime | None = _dt(default=None)
    next_check: datetime | None = _dt(default=None, index=True)
    error_streak: int = 0
    last_error: str | None = Field(default=None, max_length=2000)
    failing_since: datetime | None = _dt(default=None)
    # Set while one daemon has claimed the feed for a pass (several daemons on PostgreSQL).
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_until: datetime | None = _dt(default=None, index=True)
    # Where the feed came from ("config", "cli", "opml"): config feeds are managed in the file.
    origin: str = Field(default="config", max_length=10)
    # The URL as configured or added; `url` moves on a permanent redirect, this does not, so
    # the config keeps naming the same feed after a move.
    configured_url: str | None = Field(default=None, max_length=2048, index=True)
    moved_from: str | None = Field(default=None, max_length=2048)
    moved_at: datetime | None = _dt(default=None)
    removed: bool = False


class Story(SQLModel, table=True):
    """One news event, reported by one or more items (possibly from several outlets)."""

    __tablename__ = "story"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=1000)
    url: str | None = Field(default=None, max_length=2048)
    first_seen: datetime = _dt(index=True)
    published: datetime | None = _dt(default=None)
    severity: str = Field(default="digest", max_length=10)


class Item(SQLModel, table=True):
    __tablename__ = "item"
    __table_args__ = (sa.UniqueConstraint("feed_id", "key", name="uq_item_feed_key"),)

    id: int | None = Field(default=None, primary_key=True)
    feed_id: int = Field(foreign_key="feed.id", index=True)
    key: str = Field(max_length=2048)
    url: str | None = Field(default=None, max_length=2048)
    canonical_url: str | None = Field(default=None, max_length=2048, index=True)
    title: str = Field(max_length=1000)
    summary: str = Field(default="", max_length=20000)
    published: datetime | None = _dt(default=None)
    fetched: datetime = _dt(index=True)
    content_hash: str = Field(max_length=64)
    story_id: int | None = Field(default=None, foreign_key="story.id", index=True)
    story_reason: str | None = Field(default=None, max_length=500)  # why it joined its story


class StoryKey(SQLModel, table=True):
    """The story index: an item of a story posted under one of its clustering keys
    (monitor.cluster.index_keys). Looked up by key and publication time; rows older than
    the clustering window are never read again."""

    __tablename__ = "story_key"
    # item_id last: the newest rows of a key come straight off the index in a stable order.
    __table_args__ = (sa.Index("ix_story_key_lookup", "key", "published", "item_id"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=16)
    # Not indexed: nothing reads rows by story, and a pass writes fifty-odd rows a report.
    story_id: int = Field(foreign_key="story.id")
    item_id: int = Field(foreign_key="item.id", index=True)
    # Whole seconds since the epoch (UTC), not a timestamp: SQLite keeps a timestamp as 26
    # characters of text, and this is the middle of an index that takes some fifty rows a
    # report. Nothing but the story index reads it (monitor.store.stories.key_time).
    published: int = Field(sa_type=sa.BigInteger)


class StoryUpdate(SQLModel, table=True):
    """A later report that added a fact to a story ([stories] updates = true): the story
    goes once more to recipients who already had it, marked with `reason`."""

    __tablename__ = "story_update"
    __table_args__ = (sa.UniqueConstraint("story_id", "reason", name="uq_story_update_reason"),)

    id: int | None = Field(default=None, primary_key=True)
    story_id: int = Field(foreign_key="story.id", index=True)
    item_id: int  # the report that added the fact (not a foreign key: retention may prune it)
    reason: str = Field(max_length=500)
    created: datetime = _dt()


class DigestUpdate(SQLModel, table=True):
    """A story update frozen into a digest; the unique index sends each update once."""

    __tablename__ = "digest_update"
    __table_args__ = (
        sa.UniqueConstraint("recipient", "kind", "update_id", name="uq_digest_update_recipient"),
    )

    id: int | None = Field(default=None, primary_key=True)
    digest_id: int = Field(foreign_key="digest.id", index=True)
    recipient: str = Field(max_length=320)
    kind: str = Field(default="digest", max_length=10)
    update_id: int = Field(foreign_key="story_update.id", index=True)


class ItemTombstone(SQLModel, table=True):
    """What is left of an item pruned by retention, so that it does not come back as new
    (kept for twice the retention: monitor.store.retention)."""

    __tablename__ = "item_tombstone"
    __table_args__ = (sa.UniqueConstraint("feed_id", "key", name="uq_tombstone_feed_key"),)

    id: int | None = Field(default=None, primary_key=True)
    feed_id: int = Field(foreign_key="feed.id")
    key: str = Field(max_length=2048)
    canonical_url: str | None = Field(default=None, max_length=2048)
    content_hash: str = Field(max_length=64, index=True)
    pruned: datetime = _dt()


class ItemMatch(SQLModel, table=True):
    """A rule that fired on an item; `spans` is JSON: [[field, start, end, text], ...]."""

    __tablename__ = "item_match"
    __table_args__ = (sa.UniqueConstraint("item_id", "rule_id", name="uq_match_item_rule"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    rule_id: str = Field(max_length=200)
    topic: str = Field(max_length=100)
    severity: str = Field(default="digest", max_length=10)
    rule_version: str = Field(default="", max_length=64)
    spans: str = Field(default="[]", max_length=20000)


class Digest(SQLModel, table=True):
    """One digest for one recipient: frozen before sending, marked sent after the 250."""

    __tablename__ = "digest"

    id: int | None = Field(default=None, primary_key=True)
    recipient: str = Field(max_length=320, index=True)
    kind: str = Field(default="digest", max_length=10)  # "digest" or "alert"
    created: datetime = _dt()
    status: str = Field(default="pending", max_length=10, index=True)  # pending, sent, failed
    sent_at: datetime | None = _dt(default=None)
    message_id: str = Field(max_length=300)
    attempts: int = 0
    next_attempt: datetime | None = _dt(default=None)
    last_attempt: datetime | None = _dt(default=None)
    # The last attempt may have delivered it (connection lost after the final "."): resend as
    # is, with the same Message-ID, and never add stories to it.
    uncertain: bool = False
    error: str | None = Field(default=None, max_length=2000)
    story_count: int = 0
    # Set while one process delivers this copy, so two daemons never send it both.
    claimed_by: str | None = Field(default=None, max_length=100)
    claimed_until: datetime | None = _dt(default=None)
    shown: int | None = None  # stories shown in full in the last rendering; the rest counted


class DigestStory(SQLModel, table=True):
    """A story frozen into a digest; the unique index keeps a story out of two digests."""

    __tablename__ = "digest_story"
    __table_args__ = (
        sa.UniqueConstraint("recipient", "kind", "story_id", name="uq_digest_story_recipient"),
    )

    id: int | None = Field(default=None, primary_key=True)
    digest_id: int = Field(foreign_key="digest.id", index=True)
    recipient: str = Field(max_length=320)
    kind: str = Field(default="digest", max_length=10)
    story_id: int = Field(foreign_key="story.id", index=True)


class DaemonBeat(SQLModel, table=True):
    """A running daemon's heartbeat: `monitor status` reads it, from any machine."""

    __tablename__ = "daemon_beat"

    id: str = Field(primary_key=True, max_length=64)  # host:pid:start
    host: str = Field(max_length=255)
    pid: int
    started: datetime = _dt()
    last_tick: datetime | None = _dt(default=None)
    next_tick: datetime | None = _dt(default=None)
    stopped: datetime | None = _dt(default=None)


class Feedback(SQLModel, table=True):
    """An analyst's correction, with who made it and when (monitor.store.feedback).

    `kind` is "not_relevant" (a story), "split" (a report that is not the same story:
    `story_id` the story it left, `split_story_id` the one it became) or "missed" (an item
    the rules missed: `item_id` when it is stored, else only `url`). Ids are not foreign
    keys: retention may prune the story or item, and the feedback stays as a record."""

    __tablename__ = "feedback"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20, index=True)
    story_id: int | None = Field(default=None, index=True)
    item_id: int | None = None
    split_story_id: int | None = None
    url: str | None = Field(default=None, max_length=2048)
    topic: str = Field(default="", max_length=100)
    note: str = Field(default="", max_length=2000)
    who: str = Field(max_length=320)
    created: datetime = _dt()
