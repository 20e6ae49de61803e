"""A deterministic corpus of news-like feeds for benchmarks (RSS and Atom, 20–100 items each,
HTML descriptions, some with full content:encoded articles, some stories repeated across feeds).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

WORDS = [
    "Torkham",
    "Chaman",
    "border",
    "crossing",
    "militants",
    "TTP",
    "Khyber",
    "Pakhtunkhwa",
    "Kabul",
    "Islamabad",
    "talks",
    "ceasefire",
    "trade",
    "trucks",
    "refugees",
    "police",
    "checkpost",
    "attack",
    "district",
    "army",
    "statement",
    "minister",
    "province",
    "Waziristan",
    "Bajaur",
    "Kurram",
    "tribal",
    "elders",
    "commission",
    "report",
    "market",
    "wheat",
    "flour",
    "prices",
    "election",
    "court",
    "hearing",
    "officials",
    "said",
    "on",
    "Monday",
    "Tuesday",
    "the",
    "a",
    "of",
    "in",
    "and",
    "to",
    "for",
]


# Everyday words: a few thousand made-up words drawn with a skewed (Zipf-like) frequency,
# as in real text, so two unrelated reports share few word pairs. With the beat's words
# alone, every item would look like a copy of every other to the story clusterer.
_SYLLABLES = [
    "ka",
    "ri",
    "to",
    "man",
    "sel",
    "dor",
    "vi",
    "na",
    "lek",
    "por",
    "zu",
    "ha",
    "mi",
    "ter",
    "ol",
    "bas",
    "ge",
    "run",
    "fa",
    "lin",
]
_vocab = random.Random(7)
GENERIC = sorted(
    {"".join(_vocab.choice(_SYLLABLES) for _ in range(_vocab.randint(2, 3))) for _ in range(5000)}
)
VERSION = 2  # bump when the output changes, so a cached corpus is not reused


def word(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return rng.choice(WORDS)
    return GENERIC[int(len(GENERIC) * rng.random() ** 2.5)]


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(word(rng) for _ in range(n)).capitalize() + "."


def article(rng: random.Random) -> str:
    return "".join(
        f"<p>{sentence(rng, rng.randint(15, 40))} "
        f"<a href='https://n.example.org/{rng.randint(1, 9999)}'>"
        f"{sentence(rng, 3)}</a> <em>{sentence(rng, 6)}</em></p>"
        for _ in range(rng.randint(20, 60))
    )


def generate(out: Path, feeds: int = 500, seed: int = 20260101) -> list[Path]:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    shared = [(sentence(rng, 9), f"https://wire.example.org/story/{i}") for i in range(200)]
    paths = []
    for f in range(feeds):
        atom = f % 3 == 0
        full = f % 7 < 2
        items = []
        for i in range(rng.randint(20, 100)):
            if rng.random() < 0.05:
                title, link = rng.choice(shared)
            else:
                title, link = (
                    sentence(rng, rng.randint(6, 14)),
                    f"https://outlet{f}.example.org/{i}",
                )
            when = base - timedelta(minutes=37 * i + f)
            desc = f"<p>{sentence(rng, rng.randint(20, 60))}</p><img src='x.jpg'/>"
            body = article(rng) if full else ""
            items.append((title, link, when, desc, body))
        path = out / (f"feed{f:03d}." + ("atom" if atom else "rss") + ".xml")
        path.write_text(atom_doc(f, items) if atom else rss_doc(f, items), encoding="utf-8")
        paths.append(path)
    return paths


def rss_doc(f: int, items: list[tuple[str, str, datetime, str, str]]) -> str:
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>Outlet {f}</title><link>https://outlet{f}.example.org/</link>"
        "<description>News</description>"
    ]
    for title, link, when, desc, body in items:
        parts.append(
            f"<item><title>{escape(title)}</title><link>{link}</link>"
            f"<guid isPermaLink='false'>{link}#g</guid><pubDate>{format_datetime(when)}</pubDate>"
            f"<description>{escape(desc)}</description>"
            + (f"<content:encoded><![CDATA[{body}]]></content:encoded>" if body else "")
            + "</item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts)


def atom_doc(f: int, items: list[tuple[str, str, datetime, str, str]]) -> str:
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Outlet {f}</title><id>urn:outlet:{f}</id><updated>2026-01-01T00:00:00Z</updated>"
    ]
    for title, link, when, desc, body in items:
        parts.append(
            f"<entry><title>{escape(title)}</title><link href='{link}'/><id>{link}#a</id>"
            f"<updated>{when.isoformat()}</updated><summary type='html'>{escape(desc)}</summary>"
            + (f"<content type='html'>{escape(body)}</content>" if body else "")
            + "</entry>"
        )
    parts.append("</feed>")
    return "".join(parts)
