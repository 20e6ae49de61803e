"""Fetch feedparser's own test corpus (about 2,000 feed files) for tests/test_feedparser_corpus.py.

Downloads the pinned feedparser source distribution with pip (network at setup time only,
never inside a test) into scripts/.cache/ and unpacks its tests/ folder there. Run by
`make test` when the corpus is missing; run it by hand with:

    .venv/bin/python scripts/get_feedparser_corpus.py
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

VERSION = "6.0.11"
CACHE = Path(__file__).resolve().parent / ".cache"
CORPUS = CACHE / "feedparser-corpus"
DONE = CORPUS / ".complete"


def main() -> int:
    if DONE.exists():
        print(f"feedparser corpus present: {CORPUS}")
        return 0
    CACHE.mkdir(parents=True, exist_ok=True)
    sdist = CACHE / f"feedparser-{VERSION}.tar.gz"
    if not sdist.exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-binary", ":all:",
             "--no-deps", f"feedparser=={VERSION}", "-d", str(CACHE)],
            check=True,
        )  # fmt: skip
    prefix = f"feedparser-{VERSION}/tests/"
    count = 0
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            if not member.isfile() or not member.name.startswith(prefix):
                continue
            rel = member.name[len(prefix) :]
            if rel.endswith(".py"):
                continue
            target = CORPUS / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            target.write_bytes(source.read())
            count += 1
    DONE.write_text(f"feedparser {VERSION}: {count} files\n")
    print(f"unpacked {count} files of feedparser {VERSION} into {CORPUS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
