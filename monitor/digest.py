"""Digest content: which stories a recipient gets and how they read (pure, no I/O).

Rendering is Jinja2 with autoescaping for HTML; every link is checked to be http(s) before
it reaches a template, and all text is plain text from `normalize`, escaped here again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

import jinja2

from monitor.models import StoryEntry
from monitor.store import FeedHealth

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


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    subject: str
    html: str
    text: str


def topic_title(topic: str) -> str:
    return TOPIC_TITLES.get(topic, topic.replace("_", " ").capitalize())


def group_by_topic(stories: Sequence[StoryEntry]) -> list[TopicGroup]:
    """Stories under their first topic; alerts and most-reported first within a topic."""
    groups: dict[str, list[StoryEntry]] = {}
    for s in stories:
        groups.setdefault(s.topics[0] if s.topics else "other", []).append(s)
    ordered = sorted(
        groups.items(),
        key=lambda kv: (-sum(x.severity == "alert" for x in kv[1]), -len(kv[1]), kv[0]),
    )
    return [
        TopicGroup(
            topic,
            topic_title(topic),
            tuple(
                sorted(
                    items,
                    key=lambda s: (
                        s.severity != "alert",
                        -len(s.outlets),
                        -s.first_seen.timestamp(),
                    ),
                )
            ),
        )
        for topic, items in ordered
    ]


def subject_line(stories: Sequence[StoryEntry], when: datetime) -> str:
    alerts = sum(s.severity == "alert" for s in stories)
    n = len(stories)
    parts = [f"Frontier Monitor — {n} new {'story' if n == 1 else 'stories'}"]
    if alerts:
        parts[0] += f" ({alerts} alert{'s' if alerts != 1 else ''})"
    parts.append(when.strftime("%a %d %b %Y"))
    return " — ".join(parts)


def safe_link(url: str | None) -> str | None:
    """The URL if it is http(s), else None: no javascript:, data: or relative links in mail."""
    if url and url.lower().startswith(("http://", "https://")):
        return url
    return None


def outlets_label(outlets: Sequence[str], shown: int = 2) -> str:
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
    return env


def render(
    stories: Sequence[StoryEntry],
    *,
    recipient: str,
    timezone: str,
    now: datetime,
    health: Sequence[FeedHealth] = (),
    left_out: int = 0,
) -> RenderedDigest:
    """The subject, HTML and plain-text parts of a digest for one recipient."""
    tz = ZoneInfo(timezone)
    local_now = now.astimezone(tz)
    groups = group_by_topic(stories)
    counts = Counter(g.title for g in groups for _ in g.stories)
    context = {
        "recipient": recipient,
        "groups": groups,
        "counts": [(g.title, counts[g.title]) for g in groups],
        "total": len(stories),
        "alerts": sum(s.severity == "alert" for s in stories),
        "now": local_now,
        "tz": tz,
        "timezone": timezone,
        "broken": [h for h in health if h.gone or h.error_streak > 0],
        "left_out": left_out,
    }
    return RenderedDigest(
        subject=subject_line(stories, local_now),
        html=_env().get_template("digest.html").render(context),
        text=_env().get_template("digest.txt").render(context),
    )
