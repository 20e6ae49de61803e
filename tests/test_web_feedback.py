"""Feedback on the desk over real HTTP (uvicorn on 127.0.0.1, httpx with cookies), on
SQLite and PostgreSQL: POST forms with a per-session CSRF token, a split that shows at
once, missed items, and hostile notes kept inert."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from monitor.store import Store
from monitor.web.server import WebServer, wait_started
from tests.conftest import run, write_config
from tests.servers import FeedServer
from tests.test_stories import DAWN_CLASH, GEO_CLASH, feed

SCRIPT = "<script>alert(1)</script>"


@dataclass
class Served:
    url: str
    store: Store
    client: httpx.Client
    config: Path
    story: int  # the geo and dawn reports' story


@pytest.fixture
def served(tmp_path: Path, feed_server: FeedServer, db_url: str) -> Iterator[Served]:
    geo = feed_server.feed("/geo.xml", feed(GEO_CLASH))
    dawn = feed_server.feed("/dawn.xml", feed(DAWN_CLASH))
    config = write_config(tmp_path, db_url=db_url, feeds=[("Geo", geo), ("Dawn", dawn)])
    assert run(config, "check").exit_code == 0
    store = Store(db_url)
    (row,) = store.story_rows()
    web = WebServer(store, "127.0.0.1:0")
    web.start()
    wait_started(web)
    try:
        with httpx.Client(base_url=web.url, timeout=30) as client:
            yield Served(web.url, store, client, config, row.id)
    finally:
        web.stop()
        store.close()


def _csrf(html: str) -> str:
    tokens = set(re.findall(r'name="csrf" value="([^"]+)"', html))
    assert len(tokens) == 1, tokens  # one token per session, in every form
    return tokens.pop()


def _report_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'id="report-(\d+)"', html)]


def test_split_a_report_by_post_with_the_session_token(served: Served) -> None:
    page = served.client.get(f"/stories/{served.story}")
    assert page.status_code == 200
    assert "desk_session" in served.client.cookies
    assert (
        "HttpOnly" in page.headers["set-cookie"] and "SameSite=Strict" in page.headers["set-cookie"]
    )
    assert "script-src 'none'" in page.headers["content-security-policy"]
    assert "<script" not in page.text
    token = _csrf(page.text)
    first, second = _report_ids(page.text)

    r = served.client.post(
        f"/stories/{served.story}/split",
        data={"csrf": token, "item": str(second), "note": SCRIPT},
    )
    assert r.status_code == 303
    new = int(re.fullmatch(r"/stories/(\d+)\?split_from=\d+", r.headers["location"])[1])  # type: ignore[index]
    shown = served.client.get(r.headers["location"])
    assert _report_ids(shown.text) == [second]
    assert "Split out of" in shown.text
    assert _report_ids(served.client.get(f"/stories/{served.story}").text) == [first]

    listed = served.client.get("/feedback")
    assert f'into <a href="/stories/{new}">' in listed.text
    assert SCRIPT not in listed.text and "&lt;script&gt;" in listed.text  # the note, inert
    assert "desk user (no sign-in)" in listed.text
    (fb,) = served.store.feedback()
    assert (fb.kind, fb.item_id, fb.split_story_id, fb.note) == ("split", second, new, SCRIPT)


def test_posts_without_the_session_token_change_nothing(served: Served) -> None:
    page = served.client.get(f"/stories/{served.story}")
    token = _csrf(page.text)
    _, second = _report_ids(page.text)
    path = f"/stories/{served.story}/split"
    # No token, a wrong one, another session's (a fresh client), another site's page.
    assert served.client.post(path, data={"item": str(second)}).status_code == 403
    wrong = served.client.post(path, data={"csrf": token[:-2] + "xx", "item": str(second)})
    assert wrong.status_code == 403 and "CSRF token" in wrong.text
    with httpx.Client(base_url=served.url, timeout=30) as stranger:
        stranger.get("/")
        assert stranger.post(path, data={"csrf": token, "item": str(second)}).status_code == 403
    cross = served.client.post(
        path,
        data={"csrf": token, "item": str(second)},
        headers={"Origin": "https://evil.example.org"},
    )
    assert cross.status_code == 403 and "another site" in cross.text
    # A GET changes nothing either.
    assert served.client.get(path).status_code == 405
    assert served.store.feedback() == []
    assert len(_report_ids(served.client.get(f"/stories/{served.story}").text)) == 2


def test_bad_feedback_says_what_was_wrong_and_keeps_what_is_stored(served: Served) -> None:
    token = _csrf(served.client.get("/feedback").text)
    bad_item = served.client.post(
        f"/stories/{served.story}/split", data={"csrf": token, "item": "12x"}
    )
    assert bad_item.status_code == 400 and "not a report id: &#39;12x&#39;" in bad_item.text
    elsewhere = served.client.post(
        f"/stories/{served.story + 1000}/split", data={"csrf": token, "item": "1"}
    )
    assert elsewhere.status_code == 400 and f"no story {served.story + 1000}" in elsewhere.text
    topic = served.client.post("/missed", data={"csrf": token, "item": "1", "topic": "sport"})
    assert topic.status_code == 400 and "unknown topic" in topic.text
    js = served.client.post("/missed", data={"csrf": token, "item": "javascript:alert(1)"})
    assert js.status_code == 400 and "http(s) URL" in js.text
    assert served.store.feedback() == []

    ok = served.client.post(
        "/missed",
        data={"csrf": token, "item": "https://news.example.org/geo-1", "topic": "border"},
    )
    assert ok.status_code == 303
    nr = served.client.post(f"/stories/{served.story}/not-relevant", data={"csrf": token})
    assert nr.status_code == 303
    kinds = [(f.kind, f.topic) for f in served.store.feedback()]
    assert kinds == [("not_relevant", ""), ("missed", "border")]
    assert served.store.feedback()[1].item_id is not None  # found by its link


SECRET = "k" * 40


def _digest_links(outbox: Path) -> list[str]:
    import email
    from email import policy

    links = []
    for path in sorted(outbox.glob("*-digest-*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        links += re.findall(r"Not relevant\? (\S+)", text)
        html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert "not relevant?</a>" in html
    return links


def test_digest_feedback_links_work_without_sign_in_for_their_story_only(
    tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:
    from datetime import UTC, datetime, timedelta

    from monitor.web import tokens

    geo = feed_server.feed("/geo.xml", feed(GEO_CLASH))
    dawn = feed_server.feed("/dawn.xml", feed(DAWN_CLASH))
    feeds = [("Geo", geo), ("Dawn", dawn)]
    # Links asked for without a secret: a clear config error, nothing sent.
    config = write_config(
        tmp_path, db_url=db_url, feeds=feeds, extra='[web]\nbase_url = "http://127.0.0.1:1/"\n'
    )
    refused = run(config, "check")
    assert refused.exit_code == 2
    assert "web.base_url" in refused.output and "[web] secret" in refused.output

    store = Store(db_url)
    web = WebServer(store, "127.0.0.1:0", SECRET)
    web.start()
    wait_started(web)
    try:
        extra = f'[web]\nbase_url = "{web.url}"\nsecret = "{SECRET}"\n'
        config = write_config(tmp_path, db_url=db_url, feeds=feeds, extra=extra)
        assert run(config, "check").exit_code == 0
        assert run(config, "digest", "send").exit_code == 0
        (link,) = _digest_links(tmp_path / "outbox")
        (row,) = store.story_rows()
        assert link.startswith(f"{web.url}stories/{row.id}/link/not_relevant?token=")

        with httpx.Client(timeout=30) as browser:
            page = browser.get(link)
            assert page.status_code == 200
            assert "Mark not relevant, as analyst@example.org" in page.text
            assert store.feedback() == []  # opening the link changes nothing
            # The same token on another story, or for another action, does nothing.
            token = link.split("token=")[1]
            other = browser.get(f"{web.url}stories/{row.id + 1}/link/not_relevant?token={token}")
            assert other.status_code == 403 and "Forged link" in other.text
            action = browser.get(f"{web.url}stories/{row.id}/link/split?token={token}")
            assert action.status_code == 403 and "Forged link" in action.text
            key = tokens.derive(SECRET.encode(), "links")
            old = tokens.sign_link(
                key, "analyst@example.org", row.id, "not_relevant",
                datetime.now(UTC) - timedelta(days=31),
            )  # fmt: skip
            expired = browser.get(f"{web.url}stories/{row.id}/link/not_relevant?token={old}")
            assert expired.status_code == 403 and "Expired link" in expired.text
            assert store.feedback() == []

            done = browser.post(link, data={"csrf": _csrf(page.text), "note": SCRIPT})
            assert done.status_code == 200 and "Thank you" in done.text
        (fb,) = store.feedback()
        assert (fb.kind, fb.story_id, fb.who, fb.note) == (
            "not_relevant",
            row.id,
            "analyst@example.org",
            SCRIPT,
        )
    finally:
        web.stop()
        store.close()


def test_the_web_secret_is_checked_and_never_shown(tmp_path: Path, sqlite_url: str) -> None:
    def config_with(web: str) -> str:
        result = run(
            write_config(tmp_path, db_url=sqlite_url, extra=f"[web]\n{web}\n"), "config", "show"
        )
        return f"{result.exit_code} {result.output}"

    assert "web.secret: expected a secret of at least 32 characters, got 5" in config_with(
        'secret = "short"'
    )
    missing = tmp_path / "no-such-secret"
    assert f"web.secret_file: cannot read {missing}" in config_with(f'secret_file = "{missing}"')
    (tmp_path / "secret").write_text(SECRET + "\n", encoding="utf-8")
    shown = config_with(
        f'secret_file = "{tmp_path / "secret"}"\nbase_url = "https://desk.example.org/"'
    )
    assert shown.startswith("0 ") and SECRET not in shown and "***" in shown
    assert "expected the desk's http(s) address" in config_with(
        f'secret = "{SECRET}"\nbase_url = "desk.example.org"'
    )
