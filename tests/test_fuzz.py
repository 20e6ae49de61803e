"""faults.md case 39: fuzzing bytes → parse → normalize, seeded with recorded real feeds.

Only typed feed errors (`FeedError`) may escape, and every input finishes within a bound.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from conftest import DATA, ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import FeedError
from monitor.models import FeedState
from monitor.normalize import normalize
from monitor.parse import parse_feed

SEEDS = sorted([*(DATA / "feeds").glob("*"), *(ROOT / "seeds" / "feeds").glob("*")])
# Small slices keep each example fast; the structure of real feeds is what matters.
SAMPLES = [p.read_bytes()[:20_000] for p in SEEDS if p.is_file()]
FEED = FeedState(id=1, name="fuzz", url="http://fuzz.example.org/f.xml", language="ur")
NOW = datetime(2026, 1, 1, tzinfo=UTC)
BOUND_S = 5.0


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(0, 8))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "splice", "truncate"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(
                st.sampled_from(
                    [b"<", b"&", b"]]>", b"<![CDATA[", b"\x00", b"\xff\xfe", b"<!DOCTYPE x>",
                     b"&#0;", b"&#xD800;", "پاکستان".encode(), b"<item>", b"</channel>"]
                )
                | st.binary(max_size=16)
            )  # fmt: skip
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 200))]
        elif op == "splice":
            other = draw(st.sampled_from(SAMPLES))
            start = draw(st.integers(0, max(0, len(other) - 1)))
            data[at:at] = other[start : start + draw(st.integers(1, 2000))]
        elif op == "truncate":
            del data[at:]
    return bytes(data)


@settings(
    max_examples=150,
    deadline=None,  # the bound is asserted below, per input
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(body=mutated() | st.binary(max_size=2000))
def test_parse_and_normalize_raise_only_feed_errors(body: bytes) -> None:
    started = time.monotonic()
    try:
        parsed = parse_feed(body, FEED.url, "application/xml")
    except FeedError:
        return
    for entry in parsed.entries:
        item = normalize(entry, FEED, NOW)
        assert item.key
        for text in (item.title, item.summary):
            text.encode("utf-8")
            assert "\x00" not in text
    assert time.monotonic() - started < BOUND_S
