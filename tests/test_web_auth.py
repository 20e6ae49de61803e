"""Who may use the desk, over real HTTP (uvicorn on 127.0.0.1, httpx): argon2 users and
sign-in, a trusted proxy's header only from the proxy, feeds with HTTP Basic or public,
digest links without sign-in, and the refusal to listen elsewhere without authentication."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import feedparser
import httpx
import pytest

from monitor.errors import WebError
from monitor.store import Store
from monitor.web.auth import Auth, hash_password
from monitor.web.server import WebServer, parse_listen, wait_started
from tests.conftest import run, write_config
from tests.servers import FeedServer
from tests.test_stories import DAWN_CLASH, GEO_CLASH, feed

PASSWORD = "correct horse battery"
USERS = {"ayesha": hash_password(PASSWORD)}


@contextmanager
def serving(store: Store, auth: Auth) -> Iterator[str]:
    web = WebServer(store, "127.0.0.1:0", "s" * 40, auth)
    web.start()
    wait_started(web)
    try:
        yield web.url
    finally:
        web.stop()


@pytest.fixture
def store(tmp_path: Path, feed_server: FeedServer, db_url: str) -> Iterator[Store]:
    geo = feed_server.feed("/geo.xml", feed(GEO_CLASH))
    dawn = feed_server.feed("/dawn.xml", feed(DAWN_CLASH))
    config = write_config(tmp_path, db_url=db_url, feeds=[("Geo", geo), ("Dawn", dawn)])
    assert run(config, "check").exit_code == 0
    with Store(db_url) as s:
        yield s


def _csrf(html: str) -> str:
    return re.findall(r'name="csrf" value="([^"]+)"', html)[0]


def test_users_sign_in_and_their_feedback_carries_their_name(store: Store) -> None:
    (story,) = store.story_rows()
    with serving(store, Auth(users=USERS)) as url, httpx.Client(base_url=url) as browser:
        r = browser.get(f"/stories/{story.id}")
        assert r.status_code == 303
        assert r.headers["location"] == f"/login?next=%2Fstories%2F{story.id}"
        assert browser.post(f"/stories/{story.id}/not-relevant").status_code == 303  # to login
        login = browser.get(r.headers["location"])
        assert login.status_code == 200 and 'type="password"' in login.text
        before = browser.cookies["desk_session"]
        form = {"csrf": _csrf(login.text), "next": f"/stories/{story.id}", "name": "ayesha"}
        wrong = browser.post("/login", data={**form, "password": "nope"})
        assert wrong.status_code == 401 and "wrong name or password" in wrong.text
        nobody = browser.post("/login", data={**form, "name": "bilal", "password": PASSWORD})
        assert nobody.status_code == 401
        ok = browser.post("/login", data={**form, "password": PASSWORD})
        assert ok.status_code == 303 and ok.headers["location"] == f"/stories/{story.id}"
        assert browser.cookies["desk_session"] != before  # a new session at sign-in
        page = browser.get(f"/stories/{story.id}")
        assert page.status_code == 200
        done = browser.post(f"/stories/{story.id}/not-relevant", data={"csrf": _csrf(page.text)})
        assert done.status_code == 303
        (fb,) = store.feedback()
        assert fb.who == "ayesha"
        # An off-site `next` leads home; the sign-in cookie is worthless with another session.
        stolen = browser.cookies["desk_auth"]
        with httpx.Client(base_url=url, cookies={"desk_auth": stolen}) as other:
            assert other.get("/").status_code == 303
        browser.post("/logout", data={"csrf": _csrf(page.text)})
        assert browser.get("/").status_code == 303


def test_feeds_need_credentials_unless_public(store: Store) -> None:
    with serving(store, Auth(users=USERS)) as url, httpx.Client(base_url=url) as reader:
        r = reader.get("/stories.atom")
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
        assert reader.get("/stories.json", auth=("ayesha", "nope")).status_code == 401
        ok = reader.get("/stories.atom", auth=("ayesha", PASSWORD))
        assert ok.status_code == 200
        assert len(feedparser.parse(ok.content).entries) == 1
        assert reader.get("/search", auth=("ayesha", PASSWORD)).status_code == 303  # pages: sign in
    with (
        serving(store, Auth(users=USERS, public_feeds=True)) as url,
        httpx.Client(base_url=url) as reader,
    ):
        assert reader.get("/stories.atom").status_code == 200
        assert reader.get("/stories.json").status_code == 200
        assert reader.get("/").status_code == 303


def test_a_proxy_header_counts_only_from_the_proxy(store: Store) -> None:
    (story,) = store.story_rows()
    trusted = Auth(proxy_header="X-Remote-User", proxy_addresses=("127.0.0.1",))
    with serving(store, trusted) as url, httpx.Client(base_url=url) as browser:
        assert browser.get("/").status_code == 403
        headers = {"X-Remote-User": "bilal"}
        page = browser.get(f"/stories/{story.id}", headers=headers)
        assert page.status_code == 200
        r = browser.post(
            f"/stories/{story.id}/not-relevant", data={"csrf": _csrf(page.text)}, headers=headers
        )
        assert r.status_code == 303
        assert [f.who for f in store.feedback()] == ["bilal"]
    elsewhere = Auth(proxy_header="X-Remote-User", proxy_addresses=("10.9.9.9",))
    with serving(store, elsewhere) as url, httpx.Client(base_url=url) as browser:
        r = browser.get("/", headers={"X-Remote-User": "bilal"})
        assert r.status_code == 403 and "proxy" in r.text


def test_non_loopback_addresses_need_authentication(tmp_path: Path, sqlite_url: str) -> None:
    with pytest.raises(WebError, match="without authentication"):
        parse_listen("0.0.0.0:8080")
    assert parse_listen("0.0.0.0:8080", authenticated=True) == ("0.0.0.0", 8080)
    with Store(sqlite_url) as store, pytest.raises(WebError, match="without authentication"):
        WebServer(store, "0.0.0.0:0", auth=Auth())

    def show(web: str) -> str:
        config = write_config(tmp_path, db_url=sqlite_url, extra=f"[web]\n{web}\n")
        result = run(config, "config", "show")
        return f"{result.exit_code} {result.output}"

    assert "web.listen" in show('listen = "0.0.0.0:8080"')
    users = f'listen = "0.0.0.0:8080"\n[web.users]\nayesha = "{USERS["ayesha"]}"'
    shown = show(users)
    assert shown.startswith("0 ") and USERS["ayesha"] not in shown and "ayesha" in shown
    assert "not a password" in show('[web.users]\nayesha = "hunter2"')
    assert "set [web] proxy_address" in show('listen = "0.0.0.0:8080"\nproxy_header = "X-User"')
    assert "expected an IP address" in show('proxy_header = "X-User"\nproxy_address = "proxy"')
    proxied = show('listen = "0.0.0.0:8080"\nproxy_header = "X-User"\nproxy_address = "10.0.0.2"')
    assert proxied.startswith("0 ")


def test_passwd_prints_a_hash_that_signs_in() -> None:
    from monitor.web.auth import verify_password

    out = run(None, "web", "passwd", "ayesha.k@desk", "--password", PASSWORD)
    assert out.exit_code == 0, out.output
    (line,) = [x for x in out.output.splitlines() if x.startswith('"ayesha.k@desk"')]
    hashed = line.split(" = ")[1].strip('"')
    assert verify_password({"ayesha.k@desk": hashed}, "ayesha.k@desk", PASSWORD)
    assert not verify_password({"ayesha.k@desk": hashed}, "ayesha.k@desk", "other password")
    assert run(None, "web", "passwd", "a b", "--password", PASSWORD).exit_code != 0
    assert run(None, "web", "passwd", "ayesha", "--password", "short").exit_code != 0
