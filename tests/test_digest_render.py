"""Digest rendering (pure): subject, highlights on stored offsets, escaping, trimming."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.digest import render, subject_line
from monitor.digest.parts import hit_ranges, segments
from monitor.models import Span, StoryEntry

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def story(sid: int, summary: str, spans: tuple[Span, ...], severity: str = "digest") -> StoryEntry:
    return StoryEntry(
        story_id=sid,
        title=f"Story {sid}",
        url=f"https://news.example.org/{sid}",
        summary=summary,
        published=NOW,
        first_seen=NOW,
        outlets=("Dawn", "Express Tribune", "Geo", "BBC Urdu", "Reuters"),
        topics=("border",),
        rules=("border-crossings",),
        severity=severity,
        terms=tuple(s.text for s in spans),
        highlights=spans,
    )


def test_subject_counts_stories_and_alerts_in_the_recipients_day() -> None:
    stories = [story(i, "", (), "alert" if i < 2 else "digest") for i in range(7)]
    assert (
        subject_line(stories, NOW)
        == "Frontier Monitor — 7 new stories (2 alerts) — Sat 28 Nov 2026"
    )


def test_highlights_escape_first_then_wrap_on_offsets() -> None:
    summary = "<b>TTP</b> & friends near Chaman said <script>x</script>"
    spans = (Span("summary", 3, 6, "TTP"), Span("summary", 26, 32, "Chaman"))
    html = render(
        [story(1, summary, spans)], recipient="a@example.org", timezone="Asia/Karachi", now=NOW
    ).html
    mark = (
        '<span style="background:#fff0b3;color:#16202e;font-weight:bold;'
        'border-radius:2px;padding:0 1px;">'
    )
    assert f"&lt;b&gt;{mark}TTP</span>&lt;/b&gt; &amp; friends near {mark}Chaman</span>" in html
    assert "<script>" not in html and "Dawn, Express Tribune +3" in html


def test_stale_offsets_fall_back_to_the_terms() -> None:
    text = "Clash at Torkham; Torkham shut"
    hits = hit_ranges(text, (Span("summary", 0, 7, "Torkham"),), "summary", ("Torkham",))
    assert [text[r.start : r.stop] for r in hits] == ["Torkham", "Torkham"]
    segs = segments("x " * 300 + "Torkham end", [range(600, 607)], limit=100)
    assert segs[0].text == "… " and any(s.hit and s.text == "Torkham" for s in segs)


def test_trimmed_digest_counts_what_is_left_out() -> None:
    stories = [story(i, "near Chaman", (Span("summary", 5, 11, "Chaman"),)) for i in range(12)]
    out = render(stories, recipient="a@example.org", timezone="Asia/Karachi", now=NOW, shown=5)
    assert (out.shown, out.left_out) == (5, 7)
    assert "The other 7 are recorded" in out.text and "+ 7 more in" in out.text
