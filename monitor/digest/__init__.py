"""Digest content: which stories a recipient gets and how they read (pure, no I/O).

Rendering is Jinja2 with autoescaping for HTML; every link is checked to be http(s) before
it reaches a template, and all text is plain text from `normalize`, escaped by the template.
Rendering depends only on its arguments, so a retry re-renders the same frozen stories.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

import jinja2

from monitor.digest.parts import (
    Activity,
    HealthLine,
    Segment,
    activity,
    clean,
    health_lines,
    snippet,
)
from monitor.models import StoryEntry
from monitor.schedule import digest_due
from monitor.script import direction, font_stack

__all__ = [
    "TOPIC_TITLES",
    "Activity",
    "HealthLine",
    "RenderedDigest",
    "Segment",
    "TopicGroup",
    "activity",
    "digest_due",
    "group_by_topic",
    "health_lines",
    "importance",
    "render",
    "safe_link",
    "subject_line",
]

TOPIC_TITLES = {
    "border": "Border clashes and crossings",
    "ttp_militancy": "TTP and militancy",
    "diplomacy": "Pakistan–Taliban diplomacy",
    "trade_transit": "Trade and transit",
    "refugees": "Refugees and deportations",
    "un_monitoring": "UN monitoring",
}


@dataclass(frozen=True, slots=True)
class TopicGroup:
    topic: str
    title: str
    stories: tuple[StoryEntry, ...]
    alerts: int = 0
    left_out: int = 0  # stories of this topic in the digest but not shown in full


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    subject: str
    html: str
    text: str
    shown: int = 0
    left_out: int = 0


def topic_title(topic: str) -> str:
    return TOPIC_TITLES.get(topic, topic.replace("_", " ").capitalize())


def topic_of(story: StoryEntry) -> str:
    return story.topics[0] if story.topics else "other"


def importance(s: StoryEntry) -> tuple[bool, int, float, int]:
    """Sort key: alerts first, then the most reported, then the newest."""
    return (
        s.severity != "alert",
        -len(s.outlets),
        -(s.published or s.first_seen).timestamp(),
        s.story_id,
    )


def group_by_topic(
    stories: Sequence[StoryEntry], left_out: Sequence[StoryEntry] = ()
) -> list[TopicGroup]:
    """Stories under their first topic: topics with alerts first, then the busiest; within a
    topic, alerts and the most reported first."""
    groups: dict[str, list[StoryEntry]] = {}
    for s in stories:
        groups.setdefault(topic_of(s), []).append(s)
    missing = Counter(topic_of(s) for s in left_out)
    for topic in missing:
        groups.setdefault(topic, [])
    ordered = sorted(
        groups.items(),
        key=lambda kv: (
            -sum(x.severity == "alert" for x in kv[1]),
            -(len(kv[1]) + missing[kv[0]]),
            topic_title(kv[0]),
        ),
    )
    return [
        TopicGroup(
            topic,
            topic_title(topic),
            tuple(sorted(items, key=importance)),
            alerts=sum(x.severity == "alert" for x in items),
            left_out=missing[topic],
        )
        for topic, items in ordered
    ]


def subject_line(stories: Sequence[StoryEntry], when: datetime, kind: str = "digest") -> str:
    alerts = sum(s.severity == "alert" for s in stories)
    n = len(stories)
    if kind == "alert":
        first = min(stories, key=importance).title if stories else ""
        more = f" (+{n - 1} more)" if n > 1 else ""
        return f"Frontier Monitor ALERT — {clean(first)}{more}"
    head = f"Frontier Monitor — {n:,} new {'story' if n == 1 else 'stories'}"
    if alerts:
        head += f" ({alerts} alert{'s' if alerts != 1 else ''})"
    return f"{head} — {when.strftime('%a %d %b %Y')}"


def safe_link(url: str | None) -> str | None:
    """The URL if it is http(s) without spaces or controls, else None (no javascript:, data:
    or relative links in mail)."""
    if not url:
        return None
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")):
        return None
    if any(c.isspace() or ord(c) < 32 or c in "\"'<>`\\" for c in url):
        return None
    return url


def outlets_label(outlets: Sequence[str], shown: int = 2) -> str:
    outlets = [clean(o) for o in outlets]
    if len(outlets) <= shown + 1:
        return ", ".join(outlets)
    return f"{', '.join(outlets[:shown])} +{len(outlets) - shown}"


@cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("monitor", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["safe_link"] = safe_link
    env.filters["outlets"] = outlets_label
    env.filters["clean"] = clean
    env.filters["snippet"] = snippet
    env.filters["direction"] = direction
    env.filters["font_stack"] = font_stack
    return env


def render(
    stories: Sequence[StoryEntry],
    *,
    recipient: str,
    timezone: str,
    now: datetime,
    health: Sequence[object] = (),
    activity_rows: Sequence[tuple[str, datetime]] = (),
    shown: int | None = None,
    kind: str = "digest",
    digest_id: int | None = None,
    topics: Sequence[str] = (),
    feedback_link: Callable[[int], str] | None = None,
) -> RenderedDigest:
    """The subject, HTML and plain-text parts of a digest (or alert) for one recipient.

    At most `shown` stories are shown in full (the most important); the others are counted
    per topic with a pointer to `monitor stories list`, never dropped silently. `topics` is
    the recipient's topic filter (empty: every topic), for the 7-day view.
    `feedback_link` gives a story's signed "not relevant" link on the desk, when it has one.
    """
    tz = ZoneInfo(timezone)
    local_now = now.astimezone(tz)
    ranked = sorted(stories, key=importance)
    limit = len(ranked) if shown is None else max(0, shown)
    full, rest = ranked[:limit], ranked[limit:]
    groups = group_by_topic(full, rest)
    counts = Counter(topic_of(s) for s in stories)
    alerts = sum(s.severity == "alert" for s in stories)
    summary = [("Alerts", alerts)] if alerts else []
    summary += [(g.title, counts[g.topic]) for g in groups]
    titles = {t: topic_title(t) for t in {*counts, *(t for t, _ in activity_rows)}}
    context = {
        "kind": kind,
        "recipient": recipient,
        "groups": groups,
        "summary": summary,
        "total": len(stories),
        "alerts": alerts,
        "now": local_now,
        "tz": tz,
        "timezone": timezone,
        "activity": activity(activity_rows, now=now, tz=tz, titles=titles, topics=topics)
        if kind == "digest"
        else [],
        "health": health_lines(health) if kind == "digest" else [],
        "left_out": len(rest),
        "digest_id": digest_id,
        "feedback_link": feedback_link,
    }
    return RenderedDigest(
        subject=subject_line(stories, local_now, kind),
        html=_env().get_template("digest.html").render(context),
        text=_env().get_template("digest.txt").render(context),
        shown=len(full),
        left_out=len(rest),
    )
