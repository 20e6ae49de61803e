"""Write the word statistics story clustering weighs words by (monitor/cluster/idf.tsv).

Usage: python scripts/build_story_idf.py

Reads the recorded feeds the project ships (seeds/feeds/ and tests/data/feeds/), tokenises
each item's title and lead as fingerprints do, and writes how many items use each word
(document frequency) for words used by at least MIN_DF items; the first line is the number of
items. Rarer words weigh as much as a word never seen. Run again when the tokeniser or the
recorded feeds change; the output is committed.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from monitor.cluster.fingerprint import LEAD_TOKENS
from monitor.cluster.text import strip_boilerplate, tokens
from monitor.errors import FeedError
from monitor.parse import parse_feed

ROOT = Path(__file__).resolve().parents[1]
SOURCES = (ROOT / "seeds" / "feeds", ROOT / "tests" / "data" / "feeds")
OUT = ROOT / "monitor" / "cluster" / "idf.tsv"
MIN_DF = 3


def main() -> None:
    df: Counter[str] = Counter()
    seen: set[tuple[str, str]] = set()
    for folder in SOURCES:
        for path in sorted(folder.iterdir()):
            if not path.is_file():
                continue
            try:
                parsed = parse_feed(path.read_bytes(), path.name)
            except FeedError:
                continue
            for entry in parsed.entries:
                title = str(entry.get("title") or "")
                summary = str(entry.get("summary") or "")
                if (title, summary) in seen or not (title or summary):
                    continue  # the same item recorded twice counts once
                seen.add((title, summary))
                lead = tokens(strip_boilerplate(summary))[:LEAD_TOKENS]
                df.update(set(tokens(title) + lead))
    rows = sorted((w, n) for w, n in df.items() if n >= MIN_DF)
    lines = [f"#items\t{len(seen)}", *(f"{w}\t{n}" for w, n in rows)]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(seen)} items, {len(rows)} words -> {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
