"""Render a sample digest (or a given HTML file) and screenshot it in headless Chromium.

    python scripts/digest_screenshot.py                 # sample digest -> var/screenshots/
    python scripts/digest_screenshot.py --html FILE     # e.g. a `monitor digest preview` file
    python scripts/digest_screenshot.py --alert         # the sample as an alert email

Writes the HTML and two PNGs: desktop (800 px wide) and phone (390 px wide). Needs a
Chromium binary (`chromium`, or --browser PATH). The sample is fixed data, so screenshots are
comparable between template changes.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.digest import render  # noqa: E402
from monitor.models import Span, StoryEntry  # noqa: E402
from monitor.store import FeedHealth  # noqa: E402

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # 07:00 in Karachi


def _story(
    sid: int,
    title: str,
    summary: str,
    outlets: tuple[str, ...],
    topic: str,
    rule: str,
    terms: tuple[str, ...],
    hours: float,
    severity: str = "digest",
    alerted: bool = False,
) -> StoryEntry:
    spans = []
    for term in terms:
        at = summary.find(term)
        if at >= 0:
            spans.append(Span("summary", at, at + len(term), term))
    return StoryEntry(
        story_id=sid,
        title=title,
        url=f"https://news.example.org/{sid}",
        summary=summary,
        published=NOW - timedelta(hours=hours),
        first_seen=NOW - timedelta(hours=hours),
        outlets=outlets,
        topics=(topic,),
        rules=(rule,),
        severity=severity,
        terms=terms,
        alerted=alerted,
        highlights=tuple(spans),
    )


def sample() -> tuple[list[StoryEntry], list[FeedHealth], list[tuple[str, datetime]]]:
    stories = [
        _story(
            1,
            "Chaman border clash leaves eight dead as crossing shuts again",
            "Afghan and Pakistani border forces exchanged heavy fire near Chaman on Friday "
            "night; officials said the Friendship Gate would stay shut until talks resume.",
            ("Dawn", "Express Tribune", "Geo News", "BBC Urdu", "Al Jazeera"),
            "border",
            "border-crossings",
            ("Chaman",),
            3,
            severity="alert",
            alerted=True,
        ),
        _story(
            2,
            "Torkham reopens for trade after week-long closure",
            "Hundreds of trucks crossed at Torkham on Saturday morning after the two sides "
            "agreed to remove the disputed structure.",
            ("The News", "Pajhwok"),
            "border",
            "border-crossings",
            ("Torkham",),
            9,
        ),
        _story(
            3,
            "TTP claims attack on police post in Bannu; three officers killed",
            "The banned Tehreek-e-Taliban Pakistan (TTP) said its fighters attacked the post "
            "before dawn. Security forces launched a clearance operation in the area.",
            ("Dawn", "Reuters", "Geo News"),
            "ttp_militancy",
            "ttp",
            ("TTP", "Tehreek-e-Taliban"),
            5,
        ),
        _story(
            4,
            "چمن سرحد پر فائرنگ، تجارت معطل",
            "چمن کے مقام پر پاک افغان سرحد پر فائرنگ کے بعد تجارتی سرگرمیاں معطل کر دی گئیں۔",
            ("BBC Urdu",),
            "border",
            "border-crossings",
            ("چمن",),
            11,
        ),
        _story(
            5,
            "Special representative for Afghanistan to visit Kabul next week",
            "Pakistan's special representative for Afghanistan will hold talks with the "
            "Taliban authorities on trade, refugees and cross-border attacks.",
            ("Express Tribune",),
            "diplomacy",
            "pak-taliban-diplomacy",
            ("special representative for Afghanistan", "Taliban authorities"),
            20,
        ),
    ]
    health = [
        FeedHealth(
            "Khyber News",
            "https://khyber.example.org/rss",
            True,
            False,
            5,
            "HTTP 503 Service Unavailable",
            NOW - timedelta(hours=30),
            NOW - timedelta(hours=31),
            None,
        ),
        FeedHealth(
            "Old Wire",
            "https://old.example.org/feed",
            True,
            True,
            2,
            "HTTP 410 Gone",
            NOW - timedelta(days=3),
            None,
            None,
        ),
    ]
    activity: list[tuple[str, datetime]] = []
    for day, (b, t, d) in enumerate(
        [(1, 2, 0), (0, 1, 1), (2, 3, 0), (1, 0, 0), (3, 2, 1), (4, 1, 0), (6, 3, 1)]
    ):
        when = NOW - timedelta(days=6 - day, hours=1)
        activity += (
            [("border", when)] * b + [("ttp_militancy", when)] * t + [("diplomacy", when)] * d
        )
    for day in range(7, 14):
        when = NOW - timedelta(days=day)
        activity += (
            [("border", when)] * 1 + [("ttp_militancy", when)] * 2 + [("diplomacy", when)] * 1
        )
    return stories, health, activity


def shoot(browser: str, html: Path, png: Path, width: int, height: int) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--screenshot={png}",
                f"--window-size={width},{height}",
                html.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--html", type=Path, help="screenshot this HTML file instead of the sample")
    ap.add_argument("--alert", action="store_true", help="render the sample as an alert email")
    ap.add_argument("--out", type=Path, default=ROOT / "var" / "screenshots")
    ap.add_argument(
        "--browser",
        default=shutil.which("chromium") or shutil.which("chromium-browser") or "chromium",
    )
    ap.add_argument("--height", type=int, default=2000)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.html:
        html = args.html
    else:
        stories, health, activity = sample()
        kind = "alert" if args.alert else "digest"
        if kind == "alert":
            stories = [s for s in stories if s.severity == "alert"]
        rendered = render(
            stories,
            recipient="analyst@example.org",
            timezone="Asia/Karachi",
            now=NOW,
            health=health,
            activity_rows=activity,
            kind=kind,
        )
        html = args.out / f"sample-{kind}.html"
        html.write_text(rendered.html, encoding="utf-8")
        (args.out / f"sample-{kind}.txt").write_text(rendered.text, encoding="utf-8")
        print(f"subject: {rendered.subject}")
    for name, width in (("desktop", 800), ("phone", 390)):
        png = args.out / f"{html.stem}-{name}.png"
        shoot(args.browser, html, png, width, args.height)
        print(png)


if __name__ == "__main__":
    main()
