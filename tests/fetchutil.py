"""Helpers for fetch tests: one fetch through the real client, counts in the database."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa

from monitor.fetch import fetch_all
from monitor.models import FeedState, FetchResult
from monitor.settings import FetchConfig
from monitor.store.engine import make_engine


def fetch(url: str, *, allow: tuple[str, ...] = ("127.0.0.1/32",), **cfg: Any) -> FetchResult:
    config = FetchConfig(allow_networks=allow, per_host_spacing_seconds=0, **cfg)
    feed = FeedState(id=1, name="t", url=url, language="en")
    return asyncio.run(fetch_all([feed], config))[0]


def scalar(url: str, sql: str) -> Any:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar()
    finally:
        engine.dispose()


def texts(url: str) -> list[str]:
    """Every stored title, summary and link."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT title, summary, url FROM item")).all()
    finally:
        engine.dispose()
    return [v for row in rows for v in row if v]
