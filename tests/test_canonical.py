"""canonical_url: one article, one link."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.canonical import canonical_url


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTPS://WWW.Dawn.COM/news/1947870/slug", "https://www.dawn.com/news/1947870/slug"),
        ("https://www.dawn.com:443/news/1", "https://www.dawn.com/news/1"),
        ("http://www.dawn.com:80/news/1", "http://www.dawn.com/news/1"),
        ("https://example.org:8443/a", "https://example.org:8443/a"),
        ("https://www.dawn.com/news/1#comments", "https://www.dawn.com/news/1"),
        ("https://www.dawn.com/news/1/", "https://www.dawn.com/news/1"),
        ("https://www.dawn.com/", "https://www.dawn.com/"),
        ("https://www.dawn.com", "https://www.dawn.com/"),
        (
            "https://www.geo.tv/latest/1?utm_source=twitter&utm_medium=social&fbclid=abc",
            "https://www.geo.tv/latest/1",
        ),
        (
            "https://example.org/a?z=2&gclid=x&a=1&ref=home&mc_cid=1&ocid=msn",
            "https://example.org/a?a=1&z=2",
        ),
        (
            "https://www.bbc.co.uk/news/world-asia-1?at_medium=RSS&at_campaign=KARANGA",
            "https://www.bbc.co.uk/news/world-asia-1",
        ),
        ("https://www.dawn.com/news/1947870/amp", "https://www.dawn.com/news/1947870"),
        ("https://www.thenews.com.pk/amp/1349926-x", "https://www.thenews.com.pk/1349926-x"),
        ("https://tribune.com.pk/story/1/x?amp=1", "https://tribune.com.pk/story/1/x"),
        ("https://www.geo.tv/latest/1?outputType=amp", "https://www.geo.tv/latest/1"),
        ("https://m.dawn.com/news/1", "https://www.dawn.com/news/1"),
        ("https://amp.dawn.com/news/1", "https://www.dawn.com/news/1"),
        ("https://www.bbc.co.uk/news/world-asia-1.amp", "https://www.bbc.co.uk/news/world-asia-1"),
        ("https://m.bbc.com/urdu/articles/x", "https://www.bbc.com/urdu/articles/x"),
        (
            "https://news.google.com/url?url=https%3A%2F%2Fwww.dawn.com%2Fnews%2F1%3Futm_source%3Dg",
            "https://www.dawn.com/news/1",
        ),
        (
            "https://www.google.com/url?q=https://www.geo.tv/latest/5/&sa=U",
            "https://www.geo.tv/latest/5",
        ),
        (
            "https://l.facebook.com/l.php?u=https%3A%2F%2Ftribune.com.pk%2Fstory%2F9&h=AT0",
            "https://tribune.com.pk/story/9",
        ),
        ("https://www.google.com/amp/s/www.dawn.com/news/1/amp", "https://www.dawn.com/news/1"),
    ],
)
def test_canonical_cases(raw: str, expected: str) -> None:
    assert canonical_url(raw) == expected


def test_amp_word_kept_for_unknown_sites() -> None:
    # On a site we do not know, "/amp" may be a real page name (amplifiers, say).
    assert canonical_url("https://example.org/shop/amp") == "https://example.org/shop/amp"


def test_meaningful_params_kept_and_sorted() -> None:
    assert canonical_url("https://example.org/p?id=7&page=2") == "https://example.org/p?id=7&page=2"
    assert canonical_url("https://example.org/p?page=2&id=7") == "https://example.org/p?id=7&page=2"


_JUNK = ["", "   ", "not a url", "http://[::1", "mailto:x@y", "://", "%%%"]


@pytest.mark.parametrize("junk", _JUNK)
def test_garbage_is_returned_not_raised(junk: str) -> None:
    assert isinstance(canonical_url(junk), str)


def test_idempotent_on_examples() -> None:
    for raw in ("https://m.dawn.com/news/1/amp/?utm_source=x#c", "https://Example.org/a/?b=1&a=2"):
        once = canonical_url(raw)
        assert canonical_url(once) == once


@given(st.text())
def test_never_raises(text: str) -> None:
    assert isinstance(canonical_url(text), str)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_never_raises_on_url_like(path: str) -> None:
    assert isinstance(canonical_url("https://www.dawn.com/" + path), str)


SLUG = "پاکستان-افغانستان-سرحد"
ENCODED = "%D9%BE%D8%A7%DA%A9%D8%B3%D8%AA%D8%A7%D9%86-%D8%A7%D9%81%D8%BA%D8%A7%D9%86%D8%B3%D8%AA%D8%A7%D9%86-%D8%B3%D8%B1%D8%AD%D8%AF"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        # An Urdu slug as feeds send it, and percent-encoded (either hex case).
        (f"https://urdu.geo.tv/latest/1234-{SLUG}", f"https://urdu.geo.tv/latest/1234-{ENCODED}"),
        (
            f"https://www.express.pk/story/{SLUG}/",
            f"https://www.express.pk/story/{ENCODED.lower()}",
        ),
        # Unreserved characters percent-encoded or not.
        ("https://example.org/%7euser/news", "https://example.org/~user/news"),
        ("https://example.org/news/%41bc?id=%31", "https://example.org/news/Abc?id=1"),
        # Dot segments.
        ("https://example.org/a/../b", "https://example.org/b"),
        (
            "https://www.dawn.com/news/./1947870/../1947870/slug",
            "https://www.dawn.com/news/1947870/slug",
        ),
        # An internationalised host and its xn-- form, and under the outlet rules.
        ("https://bücher.example/news/1", "https://xn--bcher-kva.example/news/1"),
        ("https://BÜCHER.example/news/1", "https://xn--bcher-kva.example/news/1"),
        # Outlet rules still apply to the normal form: mobile host, AMP, tracking.
        (
            f"https://m.dawn.com/news/1/{SLUG}/amp?utm_source=x",
            f"https://www.dawn.com/news/1/{ENCODED}",
        ),
    ],
)
def test_spellings_of_one_url_give_one_canonical_url(one: str, other: str) -> None:
    assert canonical_url(one) == canonical_url(other)
    assert canonical_url(canonical_url(one)) == canonical_url(one)


def test_canonical_urls_are_ascii_with_upper_case_escapes() -> None:
    url = canonical_url(f"https://urdu.geo.tv/latest/1234-{SLUG}")
    assert url == f"https://urdu.geo.tv/latest/1234-{ENCODED}"
    assert canonical_url("https://bücher.example/~a/") == "https://xn--bcher-kva.example/~a"
    # Reserved characters keep their escapes: %2F is not a path separator.
    assert canonical_url("https://example.org/a%2fb") == "https://example.org/a%2Fb"


URL_PARTS = [*"abcXYZ019-._~:/?#@!$&'()*+,;= A[]", "%41", "%7e", "%2f", "/./", "/../", "ب"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from([*URL_PARTS, "?a=1&", "#x", "//", ":8080", "xn--"]), max_size=40))
def test_links_skipping_w3lib_are_already_in_its_normal_form(parts: list[str]) -> None:
    from monitor.canonical import _canonical

    def canonical(url: str, fast: bool) -> str:
        try:
            return _canonical(url, 0, fast)
        except ValueError:
            return "ValueError"

    tail = "".join(parts)
    for url in (
        f"https://example.org/{tail}",
        f"https://www.dawn.com/news/{tail}",
        f"https://Example.ORG{tail}",
        f"http://m.dawn.com{tail}",
        f"https://{tail}",
    ):
        assert canonical(url, True) == canonical(url, False), url
