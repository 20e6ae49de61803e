"""Write the demo's feed files (seeds/feeds/) from the recorded real news of the corpus.

Usage: python scripts/build_seed_feeds.py CORPUS_DIR

CORPUS_DIR holds `feeds/` (recorded RSS files, copied as they are) and `items/` (recorded
items as JSON/JSONL). Items are written back out as one feed per outlet, in the formats
outlets serve: RSS 2.0 for most, Atom for Geo News, JSON Feed for the BBC Urdu and Pashto
"most read" lists. Run once when the corpus changes; the output is committed so the demo and
the tests never need the corpus.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections import defaultdict
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

OUT = Path(__file__).resolve().parents[1] / "seeds" / "feeds"
MIN_ITEMS = 8  # outlets with fewer recorded items are left out: too few to be a feed
ATOM_OUTLETS = {"Geo News"}


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def when(value: str) -> datetime:
    dt = datetime.fromisoformat(value.replace(" ", "T", 1).replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def load_items(items_dir: Path) -> dict[str, list[dict[str, str]]]:
    by_outlet: dict[str, list[dict[str, str]]] = defaultdict(list)
    for path in sorted(items_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            by_outlet[row["outlet"]].append(
                {
                    "title": row["title"],
                    "description": row.get("description") or "",
                    "link": row["link"],
                    "published": row["published"],
                    "guid": row["link"],
                }
            )
    for path in sorted(items_dir.glob("*_entries.json")):
        outlet = {
            "aljazeera": "Al Jazeera",
            "arabnews": "Arab News",
            "pakobserver": "Pakistan Observer",
        }[path.name.split("_")[0]]
        for row in json.loads(path.read_text(encoding="utf-8")):
            by_outlet[outlet].append(
                {
                    "title": row["title"],
                    "description": row.get("description") or "",
                    "link": row["link"],
                    "published": row["date_published"],
                    "guid": row["link"],
                }
            )
    return by_outlet


def rss(outlet: str, items: list[dict[str, str]]) -> str:
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{escape(outlet)}</title><link>https://example.invalid/{slug(outlet)}</link>",
        f"<description>Recorded items of {escape(outlet)}</description>",
    ]
    for it in items:
        out.append(
            "<item>"
            f"<title>{escape(it['title'])}</title><link>{escape(it['link'])}</link>"
            f'<guid isPermaLink="true">{escape(it["guid"])}</guid>'
            f"<pubDate>{format_datetime(when(it['published']))}</pubDate>"
            + (
                f"<description>{escape(it['description'])}</description>"
                if it["description"]
                else ""
            )
            + "</item>"
        )
    out.append("</channel></rss>")
    return "\n".join(out) + "\n"


def atom(outlet: str, items: list[dict[str, str]]) -> str:
    updated = max(when(i["published"]) for i in items).isoformat()
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<title>{escape(outlet)}</title><id>urn:frontier-monitor:seed:{slug(outlet)}</id>",
        f"<updated>{updated}</updated>",
    ]
    for it in items:
        out.append(
            "<entry>"
            f'<title>{escape(it["title"])}</title><link href="{escape(it["link"])}"/>'
            f"<id>{escape(it['guid'])}</id><updated>{when(it['published']).isoformat()}</updated>"
            + (f"<summary>{escape(it['description'])}</summary>" if it["description"] else "")
            + "</entry>"
        )
    out.append("</feed>")
    return "\n".join(out) + "\n"


def bbc_json_feed(path: Path, title: str, language: str) -> str:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    items = [
        {
            "id": it["id"],
            "url": it["href"],
            "title": it["title"],
            "date_published": datetime.fromtimestamp(it["timestamp"] / 1000, tz=UTC).isoformat(),
        }
        for it in data["items"]
    ]
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": title,
        "language": language,
        "items": items,
    }
    return json.dumps(feed, ensure_ascii=False, indent=1) + "\n"


def main(corpus: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        old.unlink()
    written = []
    for outlet, items in sorted(load_items(corpus / "items").items()):
        if len(items) < MIN_ITEMS:
            continue
        unique = list({i["link"]: i for i in items}.values())
        unique.sort(key=lambda i: when(i["published"]), reverse=True)
        if outlet in ATOM_OUTLETS:
            name, text = f"{slug(outlet)}.atom.xml", atom(outlet, unique)
        else:
            name, text = f"{slug(outlet)}.rss.xml", rss(outlet, unique)
        (OUT / name).write_text(text, encoding="utf-8")
        written.append((name, len(unique)))
    for src, title, lang in (
        ("bbc-urdu_mostRead_index.json", "BBC Urdu — most read", "ur"),
        ("bbc-pashto_mostRead_index.json", "BBC Pashto — most read", "ps"),
    ):
        name = f"{slug(title)}.json"
        (OUT / name).write_text(
            bbc_json_feed(corpus / "items" / src, title, lang), encoding="utf-8"
        )
        written.append((name, 20))
    # Recorded feed files, byte for byte: the latest snapshot of each outlet.
    latest: dict[str, Path] = {}
    for path in sorted((corpus / "feeds").glob("*.xml")):
        latest[path.name.split("_")[0]] = path
    for outlet, path in sorted(latest.items()):
        shutil.copyfile(path, OUT / f"recorded-{outlet}.xml")
        written.append((f"recorded-{outlet}.xml", -1))
    for name, n in written:
        print(f"{name}: {n if n >= 0 else 'as recorded'}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]))
