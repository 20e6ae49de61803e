"""Feed autodiscovery: the feeds a web page names in its `<link rel="alternate">` elements.

Pure: a page's bytes and URL in, feed links out. `monitor feeds add` turns to it when the
URL it was given answers with a web page rather than a feed, as feed readers do, so that an
outlet's home page is enough to find its feed. Every link found is still only a candidate:
it is checked and fetched like any other feed URL before it is added.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser

from monitor.normalize import clean_text
from monitor.settings import feed_url_problem

# The types feeds announce themselves with. Not application/json: WordPress links every
# page to its REST API with that type.
FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+json",
    }
)
MAX_LINKS = 20  # a page listing hundreds of feeds (a directory) is not one outlet's page


@dataclass(frozen=True, slots=True)
class FeedLink:
    url: str
    title: str
    type: str


def discover_feeds(page: bytes, page_url: str) -> list[FeedLink]:
    """The feeds `page` links to, in its order, once each; relative links are resolved
    against `page_url`, and links that are not http or https URLs are left out."""
    links: dict[str, FeedLink] = {}
    for node in LexborHTMLParser(page).css("link[rel][href]"):
        attrs = node.attributes
        rel = (attrs.get("rel") or "").lower().split()
        kind = (attrs.get("type") or "").split(";")[0].strip().lower()
        href = (attrs.get("href") or "").strip()
        if "alternate" not in rel or kind not in FEED_TYPES or not href:
            continue
        url = urljoin(page_url, href)
        if url in links or feed_url_problem(url):
            continue
        links[url] = FeedLink(url, clean_text(attrs.get("title") or "", 200), kind)
        if len(links) == MAX_LINKS:
            break
    return list(links.values())
