"""Feed autodiscovery: `monitor feeds add` given an outlet's web page finds the feed it links
to, or lists the feeds to choose from, or says the page links to none."""

from __future__ import annotations

from pathlib import Path

from conftest import RELEVANT_RSS, run, write_config
from fetchutil import scalar
from servers import FeedServer, Response

from monitor.discover import MAX_LINKS, FeedLink, discover_feeds


def page(*links: str, title: str = "An outlet") -> bytes:
    head = "".join(links)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>{head}</head>"
        "<body><h1>News</h1><p>Chaman border reopens.</p></body></html>"
    ).encode()


RSS_LINK = '<link rel="alternate" type="application/rss+xml" title="Home" href="/feeds/home">'
ATOM_LINK = (
    '<link rel="alternate" type="application/atom+xml" title="پاکستان" '
    'href="https://news.example.org/pk.atom">'
)


def test_finds_feed_links_in_page_order_resolved_against_the_page() -> None:
    found = discover_feeds(page(RSS_LINK, ATOM_LINK), "https://news.example.org/urdu/")
    assert found == [
        FeedLink("https://news.example.org/feeds/home", "Home", "application/rss+xml"),
        FeedLink("https://news.example.org/pk.atom", "پاکستان", "application/atom+xml"),
    ]


def test_reads_rel_and_type_as_browsers_do() -> None:
    links = (
        '<LINK REL="Alternate Feed" TYPE="Application/RSS+XML; charset=utf-8" HREF="a.xml">',
        '<link rel="alternate" type="application/feed+json" href="feed.json">',
    )
    found = discover_feeds(page(*links), "http://127.0.0.1:8080/x/")
    assert [f.url for f in found] == [
        "http://127.0.0.1:8080/x/a.xml",
        "http://127.0.0.1:8080/x/feed.json",
    ]


def test_leaves_out_what_is_not_a_feed_link() -> None:
    links = (
        '<link rel="alternate" type="application/json" href="/wp-json/wp/v2/pages/7">',
        '<link rel="alternate" hreflang="ur" href="/ur/">',
        '<link rel="stylesheet" type="application/rss+xml" href="/not-alternate.xml">',
        '<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">',
        '<link rel="alternate" type="application/rss+xml" href="file:///etc/passwd">',
        '<link rel="alternate" type="application/rss+xml" href="">',
        RSS_LINK,
        RSS_LINK,  # the same feed twice
    )
    found = discover_feeds(page(*links), "https://news.example.org/")
    assert [f.url for f in found] == ["https://news.example.org/feeds/home"]


def test_markup_in_a_title_is_text_and_a_directory_page_is_cut_short() -> None:
    bad = (
        '<link rel="alternate" type="application/rss+xml" title="&lt;b&gt;Top&lt;/b&gt;" href="/t">'
    )
    assert discover_feeds(page(bad), "https://a.example/")[0].title == "Top"
    many = [
        f'<link rel="alternate" type="application/rss+xml" href="/f{n}.xml">' for n in range(50)
    ]
    assert len(discover_feeds(page(*many), "https://a.example/")) == MAX_LINKS
    assert discover_feeds(b"\xff\xfe not html at all \x00", "https://a.example/") == []


def test_feeds_add_with_a_page_adds_the_feed_it_links_to(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    feed_url = feed_server.feed("/feeds/home.xml", RELEVANT_RSS)
    link = '<link rel="alternate" type="application/rss+xml" href="/feeds/home.xml">'
    home = feed_server.feed("/", page(link), content_type="text/html; charset=utf-8")
    config = write_config(tmp_path, db_url=sqlite_url)
    result = run(config, "feeds", "add", home, "--name", "Outlet")
    assert result.exit_code == 0, result.output
    assert f"is a web page; adding the feed it links to: {feed_url}" in result.output
    assert "added 'Outlet'" in result.output
    assert scalar(sqlite_url, "SELECT url FROM feed") == feed_url


def test_a_page_reached_by_a_permanent_redirect_resolves_links_where_it_is(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    feed_url = feed_server.feed("/www/feeds/home.xml", RELEVANT_RSS)
    link = '<link rel="alternate" type="application/rss+xml" href="feeds/home.xml">'
    feed_server.feed("/www/", page(link), content_type="text/html")
    old_home = feed_server.route("/", Response(301, b"", {"Location": feed_server.url("/www/")}))
    config = write_config(tmp_path, db_url=sqlite_url)
    result = run(config, "feeds", "add", old_home, "--name", "Outlet")
    assert result.exit_code == 0, result.output
    assert scalar(sqlite_url, "SELECT url FROM feed") == feed_url


def test_feeds_add_with_a_page_of_several_feeds_lists_them_and_adds_none(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    home = feed_server.feed("/", page(RSS_LINK, ATOM_LINK), content_type="text/html")
    config = write_config(tmp_path, db_url=sqlite_url)
    result = run(config, "feeds", "add", home)
    assert result.exit_code == 2
    assert "links to 2 feeds; add one of them" in result.output
    assert f"{feed_server.url('/feeds/home')}  (Home)" in result.output
    assert "https://news.example.org/pk.atom  (پاکستان)" in result.output
    assert scalar(sqlite_url, "SELECT count(*) FROM feed") == 0


def test_feeds_add_with_a_page_without_feed_links_says_it_is_no_feed(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    home = feed_server.feed("/", page(), content_type="text/html")
    config = write_config(tmp_path, db_url=sqlite_url)
    result = run(config, "feeds", "add", home)
    assert result.exit_code == 2 and "cannot add" in result.output
    assert "not a feed" in result.output
    assert scalar(sqlite_url, "SELECT count(*) FROM feed") == 0


def test_a_linked_feed_on_a_refused_address_is_not_fetched(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    # The page is on an allowed address; the feed it names is not: the guard still applies.
    link = '<link rel="alternate" type="application/rss+xml" href="http://169.254.169.254/f">'
    home = feed_server.feed("/", page(link), content_type="text/html")
    config = write_config(tmp_path, db_url=sqlite_url)
    result = run(config, "feeds", "add", home)
    assert result.exit_code == 2 and "refused to connect" in result.output
    assert scalar(sqlite_url, "SELECT count(*) FROM feed") == 0
