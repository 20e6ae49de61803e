"""Pure readings of HTTP response headers: Retry-After, Cache-Control max-age, Content-Encoding,
and which validators (ETag, Last-Modified) may be sent back.

Waits a server asks for are clamped to the scheduler's cap (`sources.MAX_WAIT`) as they are
read, so any digits a header holds give a usable number.

No I/O here; the client and the scheduler call these, and tests call them directly.
"""

from __future__ import annotations

import email.utils
import re
from datetime import UTC, datetime

from monitor.sources import MAX_WAIT

# The encodings the client decodes itself, in bounded steps (zlib); a body may carry at most
# one of them. The client advertises the same set in Accept-Encoding.
KNOWN_ENCODINGS = frozenset({"gzip", "deflate"})
ACCEPT_ENCODING = ", ".join(sorted(KNOWN_ENCODINGS, reverse=True))  # "gzip, deflate"
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-maxage|max-age)\s*=\s*\"?([0-9]+)", re.IGNORECASE)
# No server is waited for longer than the scheduler's cap, so a reading is clamped to it here:
# a header of a hundred digits must give a number a timedelta can hold, not an OverflowError.
LONGEST = MAX_WAIT.total_seconds()


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # str.isdigit alone admits "²", which float refuses
        return min(float(value), LONGEST)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - (now or datetime.now(UTC))).total_seconds()), LONGEST)


def max_age_seconds(cache_control: str | None) -> float | None:
    """The max-age of a Cache-Control header in seconds (at most LONGEST), or None."""
    if not cache_control:
        return None
    match = _MAX_AGE.search(cache_control)
    if match:
        return min(float(match.group(1)), LONGEST)
    return None


def encoding_problem(content_encoding: str | None) -> str | None:
    """Why a Content-Encoding is refused before decoding: stacked, or unknown; else None."""
    if not content_encoding:
        return None
    codings = _codings(content_encoding)
    if len(codings) > 1:
        return f"stacked Content-Encoding refused: {content_encoding.strip()[:100]!r}"
    if codings and codings[0] not in KNOWN_ENCODINGS:
        return f"unknown Content-Encoding refused: {codings[0][:100]!r}"
    return None


def content_coding(content_encoding: str | None) -> str:
    """The one coding a body carries ("identity" for none), once `encoding_problem` is None."""
    codings = _codings(content_encoding or "")
    return codings[0] if codings else "identity"


def _codings(content_encoding: str) -> list[str]:
    codings = (c.strip().lower() for c in content_encoding.split(","))
    return [c for c in codings if c and c != "identity"]


def validator(value: str | None) -> str | None:
    """An ETag or Last-Modified worth storing and sending back: ASCII only, else None.

    httpx sends header values as ASCII, so a validator of other characters (a server's
    Latin-1 or UTF-8 ETag) would fail every later request; without it the next fetch is
    simply unconditional.
    """
    return value if value and value.isascii() else None
