"""The desk in a real browser: Debian's chromium, headless, driven by Selenium through
chromium-driver, against uvicorn on 127.0.0.1 over a database filled by a real pass.

Sign in; search a term of the recorded corpus and open a story; see its reports; split one
out ("Not the same story") and see it become its own story; follow a digest feedback link;
fetch the search page's subscribe link as Atom. Hostile feed text stays inert on every page
(no script runs, none is in the DOM, markup shows as text). Screenshots of the story page
at desktop and phone widths go to var/screenshots/ (as scripts/digest_screenshot.py's).

Without chromium the test is skipped on a workstation and fails in CI (CI=true): the CI
script installs it, so a missing browser there is a broken set-up, not a pass.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest

from monitor.store import Store
from monitor.web.auth import Auth, hash_password
from monitor.web.server import WebServer, wait_started
from tests.conftest import ROOT, run, write_config
from tests.servers import FeedServer
from tests.test_stories import DAWN_CLASH, GEO_CLASH, feed
from tests.test_web import HOSTILE_OUTLET, HOSTILE_RSS, RECORDED, SCRIPT
from tests.test_web_feedback import _digest_links

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
PASSWORD = "correct horse battery"
SECRET = "b" * 40
SHOTS = ROOT / "var" / "screenshots"


def _browser_or_skip() -> None:
    if CHROMIUM and DRIVER:
        return
    missing = "chromium" if not CHROMIUM else "chromedriver (chromium-driver)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{missing} is not installed; CI installs it (.ci/run)")
    pytest.skip(f"{missing} is not installed (apt-get install chromium chromium-driver)")


@pytest.fixture
def driver() -> Iterator[Any]:
    _browser_or_skip()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(arg)
    browser = webdriver.Chrome(service=Service(executable_path=str(DRIVER)), options=options)
    browser.set_page_load_timeout(30)
    try:
        yield browser
    finally:
        browser.quit()


def _then(browser: Any, action: Any, arrived: Any) -> None:
    """Click or submit, then wait for the next page: a click returns before it loads."""
    from selenium.webdriver.support.ui import WebDriverWait

    old = browser.find_element("tag name", "html")
    action()
    WebDriverWait(browser, 30).until(lambda d: _stale(old) and arrived(d))


def _stale(element: Any) -> bool:
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        element.tag_name  # noqa: B018 - touching it tells whether the page was replaced
    except StaleElementReferenceException:
        return True
    return False


def _inert(browser: Any) -> None:
    """No script element, no alert open, and the page's own text has no live markup."""
    from selenium.webdriver.common.by import By

    assert browser.find_elements(By.TAG_NAME, "script") == []
    assert browser.execute_script("return document.querySelectorAll('b, iframe').length") == 0
    assert browser.execute_script("return window.__pwned === undefined")


def test_the_desk_in_a_browser(
    driver: Any, tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    from selenium.webdriver.common.by import By

    feeds = [("Geo News", feed_server.feed("/geo-news.xml", RECORDED[0].read_bytes()))]
    feeds += [
        ("Geo", feed_server.feed("/geo.xml", feed(GEO_CLASH))),
        ("Dawn", feed_server.feed("/dawn.xml", feed(DAWN_CLASH))),
        (HOSTILE_OUTLET, feed_server.feed("/hostile.xml", HOSTILE_RSS)),
    ]
    store = Store(sqlite_url)
    auth = Auth(users={"ayesha": hash_password(PASSWORD)}, public_feeds=True)
    web = WebServer(store, "127.0.0.1:0", SECRET, auth)
    web.start()
    wait_started(web)
    base = web.url.rstrip("/")
    try:
        extra = f'[web]\nbase_url = "{web.url}"\nsecret = "{SECRET}"\n'
        config = write_config(tmp_path, db_url=sqlite_url, feeds=feeds, extra=extra)
        assert run(config, "check").exit_code == 0

        # Sign in.
        driver.get(f"{base}/search")
        assert "/login" in driver.current_url
        driver.find_element(By.NAME, "name").send_keys("ayesha")
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)
        button = driver.find_element(By.CSS_SELECTOR, "form button[type=submit]")
        _then(driver, button.click, lambda d: "/login" not in d.current_url)
        assert driver.current_url == f"{base}/search", driver.page_source

        # Search a term of the recorded corpus, then the clash, and open its story.
        box = driver.find_element(By.NAME, "q")
        box.send_keys("Afghanistan")
        _then(driver, box.submit, lambda d: "q=Afghanistan" in d.current_url)
        assert driver.find_elements(By.CSS_SELECTOR, 'a[href^="/stories/"]')
        subscribe = driver.find_element(By.CSS_SELECTOR, 'a[href*="stories.atom"]')
        atom_url = subscribe.get_attribute("href")
        box = driver.find_element(By.NAME, "q")
        box.clear()
        box.send_keys("unprovoked")
        _then(driver, box.submit, lambda d: "q=unprovoked" in d.current_url)
        story_links = [
            a for a in driver.find_elements(By.CSS_SELECTOR, 'a[href^="/stories/"]')
            if "clash" in a.text.lower() or "retaliates" in a.text.lower()
        ]  # fmt: skip
        _then(driver, story_links[0].click, lambda d: "/stories/" in d.current_url)
        story_url = driver.current_url
        reports = driver.find_elements(By.CSS_SELECTOR, "article.report")
        assert len(reports) == 2
        _inert(driver)
        SHOTS.mkdir(parents=True, exist_ok=True)
        driver.set_window_size(1280, 900)
        driver.save_screenshot(str(SHOTS / "desk-story-desktop.png"))
        driver.set_window_size(390, 844)
        driver.save_screenshot(str(SHOTS / "desk-story-phone.png"))
        driver.set_window_size(1280, 900)

        # Split the second report out: it becomes its own story.
        second = reports[1].get_attribute("id")
        split = reports[1].find_element(By.CSS_SELECTOR, "form button")
        _then(driver, split.click, lambda d: "split_from=" in d.current_url)
        assert "split_from=" in driver.current_url
        assert "Split out of" in driver.page_source
        assert [
            a.get_attribute("id") for a in driver.find_elements(By.CSS_SELECTOR, "article.report")
        ] == [second]
        driver.get(story_url)
        assert len(driver.find_elements(By.CSS_SELECTOR, "article.report")) == 1

        # The hostile story: its markup is text, and nothing runs.
        driver.get(f"{base}/search?q=TTP")
        hostile = [
            a for a in driver.find_elements(By.CSS_SELECTOR, 'a[href^="/stories/"]')
            if "TTP attack" in a.text
        ]  # fmt: skip
        assert hostile
        _then(driver, hostile[0].click, lambda d: "/stories/" in d.current_url)
        _inert(driver)
        assert SCRIPT in driver.find_element(By.TAG_NAME, "main").text
        for page in ("/", "/feeds", "/digests", "/feedback", "/search?q=TTP"):
            driver.get(base + page)
            _inert(driver)

        # A digest feedback link, in a browser that is not signed in.
        assert run(config, "digest", "send").exit_code == 0
        link = _digest_links(tmp_path / "outbox")[0]
        driver.delete_all_cookies()
        driver.get(link)
        assert "Mark not relevant, as analyst@example.org" in driver.page_source
        confirm = driver.find_element(By.CSS_SELECTOR, "form button")
        _then(driver, confirm.click, lambda d: "Thank you" in d.page_source)
        assert "Thank you" in driver.page_source
        assert [f.who for f in store.feedback() if f.kind == "not_relevant"] == [
            "analyst@example.org"
        ]

        # The subscribe link is a valid Atom feed.
        atom = httpx.get(atom_url, timeout=30)
        assert atom.status_code == 200
        parsed = feedparser.parse(atom.content)
        assert not parsed.bozo and parsed.version == "atom10" and parsed.entries
    finally:
        web.stop()
        store.close()
