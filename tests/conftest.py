"""Shared fixtures: real servers on 127.0.0.1, a migrated database, a config writer, the CLI."""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).parent))

from servers import FeedServer, SmtpSink

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
RULES = ROOT / "config" / "rules.toml"
PG_ENV = "MONITOR_TEST_POSTGRES_URL"


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.close()


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    yield sink
    sink.close()


def _postgres_url() -> Iterator[str]:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests need {PG_ENV}")
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture
def pg_empty_url() -> Iterator[str]:
    """A schema of its own on the test PostgreSQL, not migrated (skips without one)."""
    yield from _postgres_url()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A migrated schema of its own on the test PostgreSQL (skips without one)."""
    from monitor.store.engine import upgrade

    for url in _postgres_url():
        upgrade(url)
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a SQLite file, and PostgreSQL when configured."""
    from monitor.store.engine import upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'var' / 'monitor.db'}"
        upgrade(url)
        yield url
    else:
        for url in _postgres_url():
            upgrade(url)
            yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    from monitor.store.engine import upgrade

    url = f"sqlite:///{tmp_path / 'var' / 'monitor.db'}"
    upgrade(url)
    return url


def send_time_passed(timezone: str, minutes: float) -> str:
    """A digest `send_at` ("HH:MM") that has passed today on `timezone`'s clock: `minutes` ago,
    or midnight when that was yesterday. A first digest waits for its send time, so
    yesterday's would make no digest due at all."""
    now = datetime.now(ZoneInfo(timezone))
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return max(now - timedelta(minutes=minutes), midnight).strftime("%H:%M")


FEEDPARSER_CORPUS = ROOT / "scripts" / ".cache" / "feedparser-corpus"


def feedparser_corpus_files() -> list[Path]:
    """Every XML file of feedparser's own corpus (fetched by `make test`, never by a test);
    when it is missing the test fails and says how to get it."""
    if not (FEEDPARSER_CORPUS / ".complete").exists():
        pytest.fail(
            "feedparser's test corpus is missing: run `.venv/bin/python "
            "scripts/get_feedparser_corpus.py` (or `make test`, which runs it) with network "
            "access to the Python package index, then run the tests again"
        )
    files = sorted(p for p in FEEDPARSER_CORPUS.rglob("*.xml") if p.is_file())
    assert len(files) > 2000
    return files


def toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def write_config(
    directory: Path,
    *,
    db_url: str,
    feeds: Sequence[tuple[str, str]] = (),
    recipients: Sequence[str] = ("analyst@example.org",),
    smtp_port: int | None = None,
    extra: str = "",
    rules: Path = RULES,
    digest_extra: str = "",
    allow: Sequence[str] = ("127.0.0.1/32",),
    fetch: str = "",
) -> Path:
    """A monitor.toml polling `feeds` (name, url) on 127.0.0.1, using the project's rules."""
    lines = [
        f"rules = {toml_str(str(rules))}",
        "[database]",
        f"url = {toml_str(db_url)}",
        "[fetch]",
        f"allow_networks = {json.dumps(list(allow))}",
        "timeout_seconds = 10" if "timeout_seconds" not in fetch else "",
        "per_host_spacing_seconds = 0",  # every test feed shares one host
        fetch,
        "[delivery]",
        f"outbox = {toml_str(str(directory / 'outbox'))}",
    ]
    if smtp_port is not None:
        lines += [
            "[smtp]",
            'host = "127.0.0.1"',
            f"port = {smtp_port}",
            'security = "none"',
            "timeout_seconds = 10",
        ]
    lines += ["[digest]", 'from = "monitor@example.org"', 'timezone = "Asia/Karachi"']
    lines += [digest_extra] if digest_extra else []
    for address in recipients:
        lines += ["[[digest.recipients]]", f"address = {toml_str(address)}"]
    for name, url in feeds:
        lines += ["[[feeds]]", f"name = {toml_str(name)}", f"url = {toml_str(url)}"]
    path = directory / "monitor.toml"
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def run(config: Path | None, *args: str) -> Result:
    """Invoke the CLI in-process, as a user would type it."""
    from monitor.cli import main

    argv = (["--config", str(config)] if config else []) + list(args)
    return CliRunner().invoke(main, argv, catch_exceptions=False)


def rss(*items: tuple[str, str, str], title: str = "Test feed") -> bytes:
    """A small RSS 2.0 document from (guid, title, description) triples."""
    body = "".join(
        f"<item><guid>{g}</guid><title>{t}</title><link>https://news.example.org/{g}</link>"
        f"<description>{d}</description><pubDate>Sat, 28 Nov 2026 05:00:00 GMT</pubDate></item>"
        for g, t, d in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://news.example.org/</link>{body}</channel></rss>"
    ).encode()


RELEVANT_RSS = rss(
    ("a1", "TTP attack on check post in North Waziristan", "Militants attacked a post."),
    ("a2", "Torkham border crossing closed after firing", "Traders stranded at Torkham."),
    ("a3", "Cricket: Pakistan beat Sri Lanka", "A fine win in Lahore."),
)
