"""Canonical form of a news link, so one article reached by many links is one URL.

Owns `canonical_url`: scheme and host case, default ports, fragments, tracking
parameters, parameter order, trailing slashes, the AMP and mobile variants of outlets
whose patterns we know, and aggregator wrappers (Google News, Facebook) whose target is
in the query. What RFC 3986 says is the same URL is left to w3lib (Scrapy's URL library):
percent-encoding (an Urdu slug and its %-encoded form, `%7e` and `~`), dot segments
(`/a/../b` is `/b`) and internationalised host names (`xn--` form); the outlet-specific
rules then run on that normal form. Pure string work: no network call, and it never
raises; a link it cannot parse comes back stripped but otherwise as given.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url as _rfc3986_normal

__all__ = ["TRACKING_PARAMS", "article_id", "canonical_url"]

# Exact parameter names that only say how a reader arrived, never which article.
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gclsrc",
        "msclkid",
        "yclid",
        "twclid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "igsh",
        "ref",
        "ref_src",
        "ref_url",
        "referrer",
        "traffic_source",
        "cmpid",
        "ocid",
        "at_medium",
        "at_campaign",
        "at_custom1",
        "at_custom2",
        "at_custom3",
        "at_custom4",
        "at_link",
        "at_link_id",
        "at_link_origin",
        "at_link_type",
        "at_format",
        "at_ptr_name",
        "at_bbc_team",
        "_ga",
        "_gl",
        "spm",
        "smid",
        "smtyp",
        "cmp",
        "ito",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
        "share",
        "s_cid",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
        "output",  # RSS readers' "?output=1"
    }
)
# Prefixes: every utm_* and the Piwik/Matomo and HubSpot families.
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "__hs", "oly_")

# Outlets whose "m." and "amp." hosts serve the same article as the main host.
_MOBILE_OUTLETS: tuple[str, ...] = (
    "dawn.com",
    "thenews.com.pk",
    "geo.tv",
    "tribune.com.pk",
    "bbc.com",
    "bbc.co.uk",
    "aljazeera.com",
    "reuters.com",
    "arynews.tv",
    "samaa.tv",
    "express.pk",
    "jang.com.pk",
    "urdu.geo.tv",
    "independenturdu.com",
    "tolonews.com",
    "pajhwok.com",
    "khaama.com",
    "thediplomat.com",
    "theguardian.com",
    "nytimes.com",
)
_DEFAULT_PORTS = {"http": "80", "https": "443"}
# Query parameters that ask for the AMP rendering of the same page.
_AMP_PARAMS = {"amp": {"1", "true", ""}, "outputtype": {"amp"}, "amp_js_v": None}
_GOOGLE_NEWS_HOSTS = ("news.google.com", "www.google.com", "google.com")
_AGGREGATOR_TARGET_PARAMS = ("url", "u", "q")
_MAX_UNWRAP = 3  # a wrapper inside a wrapper inside a wrapper is enough


def canonical_url(url: str) -> str:
    """The canonical form of `url`; best effort on garbage, never raises."""
    try:
        return _canonical(url, depth=0)
    except Exception:  # a canonicaliser must not take the pipeline down
        return url.strip() if isinstance(url, str) else ""


# A link with a host name (not an IP address) and no port, credentials, escapes, dot segments
# or characters to escape is already in the normal form w3lib would give (the tests check
# it): most feed links are, and w3lib costs more than all the rules below together.
_PLAIN = re.compile(
    r"https?://(?:[a-z0-9\-]+\.)*[a-z][a-z0-9\-]*(?:[/?#][a-z0-9\-._~:/?#!$&'()*+,=]*)?", re.I
)


def _normal_form(raw: str, fast: bool = True) -> str:
    """One spelling of the same URL: UTF-8 percent-encoding in upper-case hex, unreserved
    characters decoded, dot segments resolved, an IDN host in its xn-- form."""
    if fast and "/." not in raw and _PLAIN.fullmatch(raw):
        return raw
    try:
        return _rfc3986_normal(raw, keep_blank_values=True, keep_fragments=False)
    except ValueError:
        return raw  # a host IDNA refuses: keep the link as given, the outlet rules still apply


def _canonical(url: str, depth: int, fast: bool = True) -> str:
    raw = url.strip()
    if not raw:
        return ""
    if raw.startswith("//"):
        raw = "https:" + raw
    scheme = urlsplit(raw).scheme.lower()
    if scheme not in ("http", "https"):
        return raw  # mailto:, relative paths, junk: nothing we know how to improve
    raw = _normal_form(raw, fast)
    parts = urlsplit(raw)
    if not parts.netloc:
        return raw
    host, port = _host_and_port(parts.netloc)
    query = parse_qsl(parts.query, keep_blank_values=True)

    if depth < _MAX_UNWRAP:
        target = _aggregator_target(host, parts.path, query)
        if target is not None:
            return _canonical(target, depth + 1, fast)

    host = _strip_mobile_host(host)
    path = re.sub(r"/{2,}", "/", parts.path or "/")
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    path = _strip_amp_path(host, path)
    kept = sorted((k, v) for k, v in query if not _is_tracking(k) and not _is_amp_param(k, v))
    netloc = host if not port or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    return urlunsplit((scheme, netloc, path, urlencode(kept), ""))


def _host_and_port(netloc: str) -> tuple[str, str]:
    hostport = netloc.rsplit("@", 1)[-1]  # credentials never identify an article
    if hostport.startswith("["):  # IPv6 literal
        end = hostport.find("]")
        host, rest = hostport[: end + 1], hostport[end + 1 :]
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = hostport.partition(":")
    return host.lower().rstrip("."), port


def _is_tracking(key: str) -> bool:
    k = key.lower()
    return k in TRACKING_PARAMS or k.startswith(_TRACKING_PREFIXES)


def _is_amp_param(key: str, value: str) -> bool:
    k = key.lower()
    if k not in _AMP_PARAMS:
        return False
    values = _AMP_PARAMS[k]
    return values is None or value.lower() in values


def _known_outlet(host: str) -> str | None:
    for outlet in _MOBILE_OUTLETS:
        if host == outlet or host.endswith("." + outlet):
            return outlet
    return None


def _strip_mobile_host(host: str) -> str:
    outlet = _known_outlet(host)
    if outlet is None:
        return host
    for prefix in ("m.", "amp.", "mobile."):
        if host.startswith(prefix) and host[len(prefix) :].endswith(outlet):
            rest = host[len(prefix) :]
            # "m.dawn.com" → "www.dawn.com"; "amp.bbc.co.uk" → "www.bbc.co.uk"
            return rest if rest != outlet else "www." + outlet
    return host


def _strip_amp_path(host: str, path: str) -> str:
    # Only outlets we know use "/amp" as a rendering switch: elsewhere it may be a word.
    if _known_outlet(host) is None:
        return path
    segments = path.split("/")
    if segments and segments[-1].lower() == "amp":
        segments = segments[:-1]
    elif len(segments) > 2 and segments[1].lower() == "amp":
        segments = [segments[0], *segments[2:]]  # "/amp/news/123" → "/news/123"
    if segments and segments[-1].lower().endswith(".amp"):
        segments[-1] = segments[-1][: -len(".amp")]  # bbc.co.uk/news/world-123.amp
    return "/".join(segments) or "/"


def _aggregator_target(host: str, path: str, query: list[tuple[str, str]]) -> str | None:
    """The real article link when this is a known redirect wrapper, else None."""
    params = {k.lower(): v for k, v in query}
    candidates: tuple[str, ...] = ()
    if host in _GOOGLE_NEWS_HOSTS or host.endswith(".google.com"):
        if host == "news.google.com" or path in ("/url", "/amp/s", "/search") or path == "/":
            candidates = _AGGREGATOR_TARGET_PARAMS
        if path.startswith("/amp/s/"):  # google.com/amp/s/www.dawn.com/news/1
            return "https://" + path[len("/amp/s/") :]
    elif host.endswith("facebook.com") and path in ("/l.php", "/flx/warn/"):
        candidates = ("u",)
    elif host in ("t.umblr.com", "out.reddit.com", "l.messenger.com", "lm.facebook.com"):
        candidates = ("z", "url", "u")
    for name in candidates:
        value = params.get(name, "")
        target = unquote(value) if "%3a" in value.lower() else value
        if target.lower().startswith(("http://", "https://", "//")):
            return target
    return None


# Outlets whose links carry a numeric article id followed by a headline slug that the
# outlet rewrites when it re-headlines a developing story; the id is the article.
_ARTICLE_ID_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("dawn.com", re.compile(r"^/news/(\d{4,})(?:/|$)")),
    ("geo.tv", re.compile(r"^/latest/(\d{4,})(?:-|/|$)")),
    ("thenews.com.pk", re.compile(r"^/(?:latest|print)/(\d{4,})(?:-|/|$)")),
    ("tribune.com.pk", re.compile(r"^/story/(\d{4,})(?:/|$)")),
    ("arynews.tv", re.compile(r"^/(?:[a-z-]+/)?(\d{5,})(?:/|$)")),
)


def article_id(url: str) -> str | None:
    """ "outlet:id" for links of outlets known to keep one id across headline changes.

    Expects a canonical URL; returns None for other outlets and on anything unparsable.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        for outlet, pattern in _ARTICLE_ID_PATTERNS:
            if host == outlet or host.endswith("." + outlet):
                m = pattern.match(parts.path)
                return f"{outlet}:{m[1]}" if m else None
    except (ValueError, TypeError):
        return None
    return None
