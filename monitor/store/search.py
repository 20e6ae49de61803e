"""Reading stories for the analyst's desk (monitor.web): filtered listings, full-text search
over the whole archive, a story with every report and its matched spans.

Read-only. The search index is the database's own, kept in the transaction that stores the
items (migration e7b5c3a1f9d2): on SQLite the FTS5 table `item_fts`, fed by triggers on
`item`; on PostgreSQL the generated column `item.search_vector` under a GIN index. Neither
is in the models (SQLModel knows neither an FTS5 table nor a generated tsvector), so
Alembic's model comparison is told to look past them (`outside_models`).

A search finds reports and answers with their stories: a story ranks by its best report's
relevance (FTS5 bm25, title weighted above summary; PostgreSQL ts_rank over the same
weights), divided by 1 + age / RECENCY_HALF_DAYS (monitor.search) so that, of two
equally relevant stories, the newer comes first.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from monitor.models import Span
from monitor.search import RECENCY_HALF_DAYS, Filters, fts5_match
from monitor.store import tables as t
from monitor.store.tables import UTCDateTime
from monitor.store.tables import table_of as _table

__all__ = [
    "MatchRow",
    "ReportDetail",
    "ReportRow",
    "SearchMixin",
    "StoryCard",
    "StoryPage",
    "outside_models",
]

# Schema objects of the search index that the migration made and the models do not name.
FTS_TABLE = "item_fts"  # and its shadow tables, item_fts_data, item_fts_idx, ...
SEARCH_COLUMN = "search_vector"
SEARCH_INDEX = "ix_item_search_vector"


def outside_models(name: str | None, type_: str) -> bool:
    """Whether a schema object belongs to the search index (for Alembic's comparison)."""
    if name is None:
        return False
    if type_ == "table":
        return name == FTS_TABLE or name.startswith(FTS_TABLE + "_")
    return (type_ == "column" and name == SEARCH_COLUMN) or (
        type_ == "index" and name == SEARCH_INDEX
    )


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One report of a story, as a card lists it."""

    item_id: int
    outlet: str
    title: str
    url: str | None
    published: datetime | None
    fetched: datetime


@dataclass(frozen=True, slots=True)
class StoryCard:
    """A story with what a listing shows: its outlets (first reported first), topics, the
    rules that matched, and `updated`, when its latest report was stored."""

    id: int
    title: str
    first_seen: datetime
    severity: str
    updated: datetime
    outlets: tuple[str, ...]
    topics: tuple[str, ...]
    rules: tuple[str, ...]
    reports: tuple[ReportRow, ...]


@dataclass(frozen=True, slots=True)
class StoryPage:
    cards: list[StoryCard]
    total: int  # stories that pass the filters, on every page


@dataclass(frozen=True, slots=True)
class MatchRow:
    rule_id: str
    topic: str
    severity: str
    spans: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class ReportDetail:
    """One report of a story in full: its text, why it joined, the rules that fired."""

    item_id: int
    outlet: str
    title: str
    summary: str
    url: str | None
    published: datetime | None
    fetched: datetime
    reason: str
    matches: tuple[MatchRow, ...]


_S, _I, _F, _M = _table(t.Story), _table(t.Item), _table(t.Feed), _table(t.ItemMatch)


class SearchMixin:
    engine: Engine

    def story_page(
        self,
        filters: Filters,
        *,
        page: int = 1,
        per_page: int = 50,
        now: datetime | None = None,
    ) -> StoryPage:
        """One page of the stories that pass `filters`: ranked by relevance and recency
        when there are words to search for, else newest first."""
        now = now or datetime.now(UTC)
        conds = _story_conditions(filters)
        offset = (max(page, 1) - 1) * per_page
        with self.engine.connect() as conn:
            if filters.has_text:
                hits = self._hits(conn, filters)
                score = hits.c.rel / (1.0 + _age_days(conn, now) / RECENCY_HALF_DAYS)
                base = sa.select(_S.c.id).select_from(_S.join(hits, hits.c.sid == _S.c.id))
                ordered = base.where(*conds).order_by(score.desc(), _S.c.id.desc())
                counted = base.where(*conds)
            else:
                base = sa.select(_S.c.id)
                ordered = base.where(*conds).order_by(_S.c.first_seen.desc(), _S.c.id.desc())
                counted = base.where(*conds)
            ids = list(conn.execute(ordered.limit(per_page).offset(offset)).scalars())
            total = int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(counted.subquery())
                ).scalar_one()
            )
            cards = _cards(conn, ids)
        return StoryPage([cards[i] for i in ids if i in cards], total)

    def _hits(self, conn: sa.Connection, filters: Filters) -> sa.Subquery:
        """(sid, rel): stories with a report that has every word and phrase, and the best
        such report's relevance (higher is better)."""
        if conn.dialect.name == "sqlite":
            # bm25 is lower for better matches; title counts three times the summary. bm25()
            # itself cannot be an aggregate's argument; the rank column, set to it, can.
            return (
                sa.text(
                    "SELECT item.story_id AS sid, MAX(-item_fts.rank) AS rel"
                    " FROM item_fts JOIN item ON item.id = item_fts.rowid"
                    " WHERE item_fts MATCH :match AND item_fts.rank MATCH 'bm25(3.0, 1.0)'"
                    " AND item.story_id IS NOT NULL GROUP BY item.story_id"
                )
                .bindparams(match=fts5_match(filters))
                .columns(sa.column("sid", sa.Integer), sa.column("rel", sa.Float))
                .subquery("hits")
            )
        params: dict[str, Any] = {}
        parts = []
        for n, word in enumerate(filters.words):
            params[f"w{n}"] = word
            parts.append(f"plainto_tsquery('simple', :w{n})")
        for n, phrase in enumerate(filters.phrases):
            params[f"p{n}"] = " ".join(phrase)
            parts.append(f"phraseto_tsquery('simple', :p{n})")
        query = " && ".join(parts)
        return (
            sa.text(
                "SELECT item.story_id AS sid,"
                f" MAX(ts_rank(item.{SEARCH_COLUMN}, tsq.q)) AS rel"
                f" FROM item, (SELECT {query} AS q) AS tsq"
                f" WHERE item.{SEARCH_COLUMN} @@ tsq.q AND item.story_id IS NOT NULL"
                " GROUP BY item.story_id"
            )
            .bindparams(**params)
            .columns(sa.column("sid", sa.Integer), sa.column("rel", sa.Float))
            .subquery("hits")
        )

    def story_card(self, story_id: int) -> StoryCard | None:
        with self.engine.connect() as conn:
            return _cards(conn, [story_id]).get(story_id)

    def story_reports(self, story_id: int) -> list[ReportDetail]:
        """Every report of a story, stored order, with its text, join reason and matches."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    _I.c.id,
                    _F.c.name,
                    _I.c.title,
                    _I.c.summary,
                    _I.c.url,
                    _I.c.published,
                    _I.c.fetched,
                    _I.c.story_reason,
                )
                .join(_F, _F.c.id == _I.c.feed_id)
                .where(_I.c.story_id == story_id)
                .order_by(_I.c.id)
            ).all()
            matches: dict[int, list[MatchRow]] = {r.id: [] for r in rows}
            if rows:
                for m in conn.execute(
                    sa.select(_M.c.item_id, _M.c.rule_id, _M.c.topic, _M.c.severity, _M.c.spans)
                    .where(_M.c.item_id.in_(list(matches)))
                    .order_by(_M.c.id)
                ):
                    spans = tuple(Span(f, a, b, x) for f, a, b, x in json.loads(m.spans or "[]"))
                    matches[m.item_id].append(MatchRow(m.rule_id, m.topic, m.severity, spans))
        from monitor.store.stories import FIRST_REPORT

        return [
            ReportDetail(
                r.id,
                r.name,
                r.title,
                r.summary or "",
                r.url,
                r.published,
                r.fetched,
                r.story_reason or FIRST_REPORT,
                tuple(matches[r.id]),
            )
            for r in rows
        ]

    def outlet_names(self) -> list[str]:
        """The names of the feeds not removed, for the outlet filter's suggestions."""
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    sa.select(_F.c.name).where(~_F.c.removed).order_by(_F.c.name)
                ).scalars()
            )


def _age_days(conn: sa.Connection, now: datetime) -> sa.ColumnElement[float]:
    """Days from a story's first sighting to `now` (not below 0), in this dialect."""
    if conn.dialect.name == "sqlite":
        # first_seen is kept as UTC text, which julianday() reads.
        stamp = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        age = sa.func.julianday(sa.literal(stamp)) - sa.func.julianday(_S.c.first_seen)
        return sa.func.max(0.0, age)
    seconds = sa.extract("epoch", sa.literal(now, UTCDateTime()) - _S.c.first_seen)
    return sa.func.greatest(0.0, seconds / 86400.0)


def _story_conditions(filters: Filters) -> list[sa.ColumnElement[bool]]:
    """The story-level filters: a topic one of its reports matched, an outlet among its
    reports, its severity, and the day range of its first sighting."""
    conds: list[sa.ColumnElement[bool]] = []
    if filters.topic:
        conds.append(
            _S.c.id.in_(
                sa.select(_I.c.story_id)
                .join(_M, _M.c.item_id == _I.c.id)
                .where(sa.func.lower(_M.c.topic) == filters.topic.lower())
            )
        )
    if filters.outlet:
        conds.append(
            _S.c.id.in_(
                sa.select(_I.c.story_id)
                .join(_F, _F.c.id == _I.c.feed_id)
                .where(sa.func.lower(_F.c.name) == filters.outlet.lower())
            )
        )
    if filters.severity:
        conds.append(_S.c.severity == filters.severity)
    if filters.since_time is not None:
        conds.append(_S.c.first_seen >= filters.since_time)
    if filters.before_time is not None:
        conds.append(_S.c.first_seen < filters.before_time)
    return conds


def _cards(conn: sa.Connection, ids: Sequence[int]) -> dict[int, StoryCard]:
    """The cards of these stories (unknown ids left out)."""
    if not ids:
        return {}
    wanted = list(ids)
    heads = conn.execute(
        sa.select(_S.c.id, _S.c.title, _S.c.first_seen, _S.c.severity).where(_S.c.id.in_(wanted))
    ).all()
    reports: dict[int, list[ReportRow]] = {h.id: [] for h in heads}
    for r in conn.execute(
        sa.select(
            _I.c.story_id,
            _I.c.id,
            _F.c.name,
            _I.c.title,
            _I.c.url,
            _I.c.published,
            _I.c.fetched,
        )
        .join(_F, _F.c.id == _I.c.feed_id)
        .where(_I.c.story_id.in_(wanted))
        .order_by(_I.c.id)
    ):
        reports[r.story_id].append(ReportRow(r.id, r.name, r.title, r.url, r.published, r.fetched))
    topics: dict[int, dict[str, None]] = {h.id: {} for h in heads}
    rules: dict[int, dict[str, None]] = {h.id: {} for h in heads}
    for sid, topic, rule in conn.execute(
        sa.select(_I.c.story_id, _M.c.topic, _M.c.rule_id)
        .join(_I, _I.c.id == _M.c.item_id)
        .where(_I.c.story_id.in_(wanted))
        .order_by(_M.c.id)
    ):
        topics[sid][topic] = None
        rules[sid][rule] = None
    cards = {}
    for h in heads:
        mine = reports[h.id]
        cards[h.id] = StoryCard(
            id=h.id,
            title=h.title,
            first_seen=h.first_seen,
            severity=h.severity,
            updated=max((r.fetched for r in mine), default=h.first_seen),
            outlets=tuple(dict.fromkeys(r.outlet for r in mine)),
            topics=tuple(topics[h.id]),
            rules=tuple(rules[h.id]),
            reports=tuple(mine),
        )
    return cards
