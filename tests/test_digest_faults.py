"""Delivery faults (faults.md 27–32) against a real SMTP server on 127.0.0.1, and alerts.

Stories are stored through the store directly, so each test controls titles, severities
and times exactly; delivery goes through `monitor.deliver` as the CLI and daemon call it.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import run, write_config
from servers import SmtpSink, free_port

from monitor import deliver
from monitor.cluster import ClusterSettings
from monitor.models import Item, Match, Span
from monitor.settings import FeedConfig, Settings, load_settings
from monitor.store import NewItem, Store

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # 07:00 in Karachi

ALERT_RULES = """
[[rules]]
id = "border-alert"
topic = "border"
severity = "alert"
terms = ["Chaman"]

[[rules]]
id = "ttp"
topic = "ttp_militancy"
terms = ["TTP"]
"""


def settings_for(
    tmp_path: Path,
    db_url: str,
    *,
    smtp_port: int | None,
    recipients: tuple[str, ...] = ("analyst@example.org",),
    digest_extra: str = "",
) -> Settings:
    rules = tmp_path / "rules.toml"
    rules.write_text(ALERT_RULES, encoding="utf-8")
    path = write_config(
        tmp_path,
        db_url=db_url,
        smtp_port=smtp_port,
        recipients=recipients,
        rules=rules,
        digest_extra=digest_extra,
    )
    return load_settings(path)


# Only the same canonical URL (or the same title and lead) joins a story.
URL_ONLY = ClusterSettings(near_threshold=2.0, story_containment=2.0, events=False)


def seed(
    store: Store,
    n: int,
    *,
    start: int = 0,
    when: datetime = NOW,
    title: str = "Chaman border clash {i}",
    severity: str = "digest",
    url: str | None = None,
) -> list[str]:
    """Store n matching items (one story each); return their titles.

    These tests are about delivery, not clustering: stories join only by canonical URL
    (near-identical "Chaman border clash {i}" reports would otherwise be one story)."""
    store.cluster_settings = URL_ONLY
    store.sync_feeds([FeedConfig("Dawn", "https://dawn.example.org/rss")])
    feed_id = store.due_feeds(when, ignore_schedule=True)[0].id
    new, titles = [], []
    for i in range(start, start + n):
        t = title.format(i=i)
        link = url or f"https://news.example.org/story/{i}"
        summary = f"Forces exchanged fire near Chaman, report number {i}."
        at = summary.index("Chaman")
        match = Match(
            "border-alert" if severity == "alert" else "border-crossings",
            "border",
            severity,
            spans=(Span("summary", at, at + 6, "Chaman"),),
        )
        item = Item(
            feed_id=feed_id,
            key=f"k{i}",
            url=link,
            title=t,
            summary=summary,
            published=when,
            fetched=when,
            content_hash=str(i),
            source="Dawn",
        )
        new.append(NewItem(item, f"{link}#{i}", (match,)))
        titles.append(t)
    store.add_items(new)
    return titles


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(msg: EmailMessage) -> str:
    part = msg.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def delivered_once(store: Store, recipient: str) -> None:
    """No story is in two digests of one kind for one recipient, and none is left behind."""
    ids = [
        (d.kind, sid)
        for d in store.digests(limit=10000)
        if d.recipient == recipient
        for sid in store.digest_stories(d.id)
    ]
    assert max(Counter(ids).values(), default=1) == 1
    assert store.undelivered_story_ids(recipient) == []


# -- 27: 451 on DATA, then 250 -------------------------------------------------------------


def test_451_then_250_delivers_exactly_once_after_backoff(
    tmp_path: Path, smtp: SmtpSink, db_url: str
) -> None:
    settings = settings_for(tmp_path, db_url, smtp_port=smtp.port)
    smtp.data_replies = ["451 4.3.0 try again later"]
    with Store(db_url) as store:
        seed(store, 3)
        first = deliver.send_digests(settings, store, NOW)
        assert [r.status for r in first] == ["pending"] and "451" in (first[0].error or "")
        row = store.digests()[0]
        assert row.status == "pending" and not row.uncertain
        assert row.next_attempt is not None and row.next_attempt > NOW
        assert deliver.retry_pending(settings, store, NOW + timedelta(minutes=1)) == []
        again = deliver.retry_pending(settings, store, row.next_attempt)
        assert [r.status for r in again] == ["sent"]
        assert len(smtp.messages) == 1
        assert deliver.retry_pending(settings, store, NOW + timedelta(days=1), force=True) == []
        assert [r.status for r in deliver.send_digests(settings, store, NOW)] == ["empty"]
        (row,) = store.digests()
        assert (row.status, row.attempts, row.story_count) == ("sent", 2, 3)
        delivered_once(store, "analyst@example.org")
    assert len(smtp.messages) == 1


# -- 28: 550 for one of three recipients ---------------------------------------------------


def test_550_for_one_of_three_recipients(
    tmp_path: Path, smtp: SmtpSink, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    rcpts = ("a@example.org", "gone@example.org", "c@example.org")
    settings = settings_for(tmp_path, sqlite_url, smtp_port=smtp.port, recipients=rcpts)
    smtp.refuse["gone@example.org"] = "550 5.1.1 no such user"
    with Store(sqlite_url) as store:
        seed(store, 2)
    caplog.set_level(logging.WARNING, logger="monitor.deliver")
    result = run(settings.path, "digest", "send")
    assert result.exit_code == 1
    assert "gone@example.org: digest" in result.output and "failed permanently" in result.output
    assert sorted(r[0] for r, _ in smtp.messages) == ["a@example.org", "c@example.org"]
    assert any(
        "gone@example.org failed permanently" in r.getMessage() and "550" in r.getMessage()
        for r in caplog.records
    )
    ledger = run(settings.path, "digest", "list").output
    assert "failed (permanent)" in ledger and "550 5.1.1 no such user" in ledger
    # A second send neither retries the refused copy nor puts its stories in a new digest.
    again = run(settings.path, "digest", "send")
    assert again.output.count("nothing new") == 3 and len(smtp.messages) == 2
    with Store(sqlite_url) as store:
        assert store.undelivered_story_ids("gone@example.org") == []
        failed = store.digests(status="failed")
        assert len(failed) == 1 and failed[0].story_count == 2


# -- 29: connection dropped after the final "." ---------------------------------------------


def test_drop_after_data_is_retried_with_the_same_message_id(
    tmp_path: Path, smtp: SmtpSink, db_url: str
) -> None:
    settings = settings_for(tmp_path, db_url, smtp_port=smtp.port)
    smtp.drop_after_data = 1
    with Store(db_url) as store:
        seed(store, 2)
        (rep,) = deliver.send_digests(settings, store, NOW)
        assert rep.status == "pending"
        row = store.digests()[0]
        assert row.uncertain and row.status == "pending"
        assert len(smtp.messages) == 1  # it did arrive; the client cannot know
        seed(store, 1, start=10, when=NOW + timedelta(hours=1))
        later = NOW + timedelta(hours=2)
        reports = deliver.send_digests(settings, store, later)
        assert [r.status for r in reports] == ["sent", "sent"]
        ids = smtp.message_ids()
        assert len(ids) == 3 and ids[0] == ids[1] == row.message_id and ids[2] != ids[0]
        assert max(Counter(ids).values()) == 2  # at most one duplicate
        # The uncertain copy is resent as it was; the new story goes in a new digest.
        assert text_of(smtp.messages[0][1]) == text_of(smtp.messages[1][1])
        assert "clash 10" not in text_of(smtp.messages[1][1])
        assert "clash 10" in text_of(smtp.messages[2][1])
        delivered_once(store, "analyst@example.org")


# -- 30: SMTP down for a day ---------------------------------------------------------------


def test_smtp_down_then_one_digest_with_everything(tmp_path: Path, db_url: str) -> None:
    port = free_port()  # nothing listens here yet
    settings = settings_for(tmp_path, db_url, smtp_port=port)
    with Store(db_url) as store:
        morning = seed(store, 2)
        (rep,) = deliver.send_digests(settings, store, NOW)
        assert rep.status == "pending" and "cannot connect" in (rep.error or "")
        for hours in (1, 6, 12):
            deliver.retry_pending(settings, store, NOW + timedelta(hours=hours))
        evening = seed(store, 2, start=5, when=NOW + timedelta(hours=20))
        next_day = NOW + timedelta(days=1)
        (rep,) = deliver.send_digests(settings, store, next_day, due_only=True)
        assert rep.status == "pending"
        (row,) = store.digests()
        assert row.story_count == 4 and row.status == "pending" and not row.uncertain
        sink = SmtpSink(port=port)
        try:
            reports = deliver.retry_pending(settings, store, next_day + timedelta(hours=8))
            assert [r.status for r in reports] == ["sent"]
            assert (
                deliver.send_digests(settings, store, next_day + timedelta(hours=9))[0].status
                == "empty"
            )
            assert len(sink.messages) == 1
            text = text_of(sink.messages[0][1])
            assert all(t in text for t in morning + evening)
            assert sink.messages[0][1]["Message-ID"] == row.message_id
        finally:
            sink.close()
        delivered_once(store, "analyst@example.org")


# -- 31: 5,000 stories against SIZE 1000000 -------------------------------------------------


def test_huge_digest_respects_size_and_counts_what_is_left_out(
    tmp_path: Path, sqlite_url: str
) -> None:
    sink = SmtpSink(size_limit=1_000_000)
    try:
        settings = settings_for(
            tmp_path, sqlite_url, smtp_port=sink.port, digest_extra="max_stories = 5000"
        )
        with Store(sqlite_url) as store:
            seed(store, 5000, title="Border report {i}: " + "long headline words " * 4)
            (rep,) = deliver.send_digests(settings, store, NOW)
            assert rep.status == "sent", rep.error
            (row,) = store.digests()
            assert row.story_count == 5000 and row.shown is not None and 0 < row.shown < 5000
            assert rep.left_out == 5000 - row.shown
            delivered_once(store, "analyst@example.org")
        (raw,) = sink.raw
        assert len(raw) <= 1_000_000
        assert max(len(line) for line in raw.split(b"\r\n")) < 998
        msg = sink.messages[0][1]
        assert "5,000 new stories" in str(msg["Subject"])
        text = text_of(msg)
        assert text.count("\n  Why: rule") == row.shown
        assert f"The other {5000 - row.shown:,} are recorded" in text
        assert "monitor stories list" in text and "monitor stories list" in html_of(msg)
        ledger = run(settings.path, "digest", "list").output
        assert f"5000 ({row.shown} in full)" in ledger
    finally:
        sink.close()


# -- 32: hostile subject, Urdu, RTL and emoji ----------------------------------------------


class ActiveContent(HTMLParser):
    """Collects anything in HTML that could run, load or submit something."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "object", "embed", "form", "img", "link", "style", "base"):
            self.problems.append(tag)
        for name, value in attrs:
            if name.startswith("on") or name in ("src", "srcset", "background", "action"):
                self.problems.append(f"{tag}[{name}]")
            if name == "href" and not (value or "").startswith(("http://", "https://")):
                self.problems.append(f"href={value}")


def test_hostile_titles_cannot_inject_headers_or_markup(
    tmp_path: Path, smtp: SmtpSink, db_url: str
) -> None:
    settings = settings_for(tmp_path, db_url, smtp_port=smtp.port)
    # No NUL in a stored title: PostgreSQL cannot store one (header_value is checked below).
    hostile = "Chaman چمن سرحد 🇵🇰 \u202egnp.exe\u202c\r\nBcc: evil@example.org"
    with Store(db_url) as store:
        seed(store, 1, title=hostile, severity="alert")
        seed(
            store,
            1,
            start=1,
            title='<script>alert(1)</script> Chaman "quoted" & <b>bold</b>',
            url="javascript:alert(1)",
        )
        (alert,) = deliver.send_alerts(settings, store, NOW)
        assert alert.status == "sent" and alert.kind == "alert"
        (digest,) = deliver.send_digests(settings, store, NOW)
        assert digest.status == "sent"
    assert len(smtp.messages) == 2
    for raw, (rcpts, msg) in zip(smtp.raw, smtp.messages, strict=True):
        assert rcpts == ["analyst@example.org"]
        head = raw.split(b"\r\n\r\n", 1)[0]
        lines = head.split(b"\r\n")
        assert sum(line.lower().startswith(b"subject:") for line in lines) == 1
        assert not any(line.lower().startswith(b"bcc:") for line in lines)
        assert msg["Bcc"] is None
        assert msg["From"].addresses[0].addr_spec == "monitor@example.org"
        assert msg.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
        assert all(p["Content-Transfer-Encoding"] == "quoted-printable" for p in msg.iter_parts())
        checker = ActiveContent()
        checker.feed(html_of(msg))
        assert checker.problems == []
        assert max(len(line) for line in raw.split(b"\r\n")) < 998
    assert deliver.header_value("a\x00b\r\nBcc: x\u2067") == "a b Bcc: x"
    alert_raw = smtp.raw[0].split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert "=?utf-8?" in alert_raw.lower()  # RFC 2047, the header itself is ASCII
    subject = str(smtp.messages[0][1]["Subject"])
    assert subject.startswith("Frontier Monitor ALERT — Chaman چمن سرحد 🇵🇰")
    assert "\u202e" not in subject and "\r" not in subject and "\n" not in subject
    assert "Bcc: evil@example.org" in subject  # harmless text inside the one Subject
    html = html_of(smtp.messages[1][1])
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "javascript:" not in html and "\u202e" not in html


def test_urdu_digest_subject_round_trips(tmp_path: Path, sqlite_url: str) -> None:
    """Outbox mode: complete .eml files, parsed back with the default policy."""
    settings = settings_for(tmp_path, sqlite_url, smtp_port=None)
    with Store(sqlite_url) as store:
        seed(store, 1, title="چمن سرحد پر فائرنگ، تجارت معطل 🚧", severity="alert")
        (rep,) = deliver.send_alerts(settings, store, NOW)
    eml = Path(rep.where)
    msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert str(msg["Subject"]) == "Frontier Monitor ALERT — چمن سرحد پر فائرنگ، تجارت معطل 🚧"
    assert "چمن سرحد" in text_of(msg)  # type: ignore[arg-type]


# -- alerts: rate limit, batching, marked in the digest -----------------------------------


def test_alerts_are_rate_limited_batched_and_marked_in_the_digest(
    tmp_path: Path, sqlite_url: str
) -> None:
    settings = settings_for(tmp_path, sqlite_url, smtp_port=None)
    assert settings.digest.alert_interval_minutes == 30
    with Store(sqlite_url) as store:
        seed(store, 1, title="Chaman clash A", severity="alert")
        seed(store, 1, start=1, title="Quiet Chaman trade note")  # not an alert
        assert [r.status for r in deliver.send_alerts(settings, store, NOW)] == ["sent"]
        seed(
            store,
            1,
            start=2,
            title="Chaman clash B",
            severity="alert",
            when=NOW + timedelta(minutes=5),
        )
        seed(
            store,
            1,
            start=3,
            title="Chaman clash C",
            severity="alert",
            when=NOW + timedelta(minutes=9),
        )
        assert deliver.send_alerts(settings, store, NOW + timedelta(minutes=10)) == []
        (second,) = deliver.send_alerts(settings, store, NOW + timedelta(minutes=31))
        assert second.stories == 2
        assert deliver.send_alerts(settings, store, NOW + timedelta(hours=2)) == []
        (digest,) = deliver.send_digests(settings, store, NOW + timedelta(hours=3))
        assert digest.stories == 4
    emls = sorted((tmp_path / "outbox").glob("*.eml"), key=lambda p: p.name)
    kinds = [p.name.split("-")[1] for p in emls]
    assert sorted(kinds) == ["alert", "alert", "digest"]
    digest_msg = message_from_bytes(
        next(p for p in emls if "-digest-" in p.name).read_bytes(), policy=policy.default
    )
    text = text_of(digest_msg)  # type: ignore[arg-type]
    assert text.count("already sent as an alert") == 3
    assert "Quiet Chaman trade note" in text


def test_recipient_filters_time_zone_and_send_time(tmp_path: Path, sqlite_url: str) -> None:
    extra = (
        '[[digest.recipients]]\naddress = "ttp@example.org"\ntopics = ["ttp_militancy"]\n'
        'timezone = "Europe/London"\nsend_at = "09:00"\n'
        '[[digest.recipients]]\naddress = "alerts@example.org"\nmin_severity = "alert"\n'
    )
    settings = settings_for(tmp_path, sqlite_url, smtp_port=None, recipients=(), digest_extra=extra)
    with Store(sqlite_url) as store:
        seed(store, 2)  # border, digest severity
        seed(store, 1, start=5, title="Chaman alert", severity="alert")
        # 07:00 Karachi is 02:00 London: not due for ttp@ yet; due for alerts@ (07:00 default).
        due = deliver.send_digests(settings, store, NOW, due_only=True)
        assert [(r.recipient, r.stories) for r in due] == [("alerts@example.org", 1)]
        assert deliver.send_digests(settings, store, NOW + timedelta(hours=1), due_only=True) == []
        later = deliver.send_digests(settings, store, NOW + timedelta(hours=7), due_only=True)
        assert [(r.recipient, r.status) for r in later] == [("ttp@example.org", "empty")]
    eml = next((tmp_path / "outbox").glob("*alerts@example.org.eml"))
    assert "Chaman alert" in eml.read_text()


# -- a digest over recorded real feeds -----------------------------------------------------


def test_digest_over_recorded_real_feeds(
    tmp_path: Path, feed_server: object, sqlite_url: str
) -> None:
    from servers import FeedServer

    assert isinstance(feed_server, FeedServer)
    seeds = Path(__file__).resolve().parents[1] / "seeds" / "feeds"
    feeds = [
        (p.stem, feed_server.feed("/" + p.name, p.read_bytes(), "application/xml"))
        for p in (seeds / "dawn.rss.xml", seeds / "geo-news.atom.xml")
    ]
    config = write_config(tmp_path, db_url=sqlite_url, feeds=feeds)
    assert run(config, "check").exit_code == 0
    settings = load_settings(config)
    now = datetime(2026, 8, 22, 2, 0, tzinfo=UTC)
    with Store(sqlite_url) as store:
        total = len(store.undelivered_story_ids("analyst@example.org"))
        (rep,) = deliver.send_digests(settings, store, now)
        assert rep.status == "sent" and rep.stories == total
        delivered_once(store, "analyst@example.org")
    assert total > settings.digest.max_stories  # so the trimming shows, with its count
    msg = message_from_bytes(Path(rep.where).read_bytes(), policy=policy.default)
    subject = str(msg["Subject"])
    assert subject.startswith(f"Frontier Monitor — {total:,} new stories (")
    assert subject.endswith(" alerts) — Sat 22 Aug 2026")
    text, html = text_of(msg), html_of(msg)  # type: ignore[arg-type]
    sections = [line for line in text.splitlines() if line.startswith("== ")]
    titles = [s.split(" (")[0] for s in sections]
    assert {
        "== TTP AND MILITANCY",
        "== BORDER CLASHES AND CROSSINGS",
        "== PAKISTAN–TALIBAN DIPLOMACY",
    } <= set(titles)
    assert len(titles) == len(set(titles))
    assert sum(int(s.rsplit("(", 1)[1].rstrip(") =")) for s in sections) == total
    assert f"The other {total - 500:,} are recorded" in text
    assert "Taliban support fuels deadlier TTP attacks in Pakistan: UN" in text
    assert "STORIES PER DAY" in text and "Stories per day, last 7 days" in html
    assert (
        '<span style="background:#fff0b3;color:#16202e;font-weight:bold;'
        'border-radius:2px;padding:0 1px;">TTP</span>' in html
    )
    links = [line.strip() for line in text.splitlines() if line.startswith("  https://")]
    assert len(links) == 500 and len(set(links)) == 500
    checker = ActiveContent()
    checker.feed(html)
    assert checker.problems == []
