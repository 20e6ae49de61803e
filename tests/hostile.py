"""Hostile bodies shared by the hostile-feed tests: markup hidden in UTF-7, an entity that
expands a small document to some 200 MB, and a gzip bomb."""

from __future__ import annotations

import base64
import zlib

MiB = 1024 * 1024
UTF7_DECL = b'<?xml version="1.0" encoding="utf-7"?>\n'


def utf7(text: str) -> bytes:
    """`text` in UTF-7 with every character base64-shifted: no markup byte is left in ASCII."""
    return b"+" + base64.b64encode(text.encode("utf-16-be")).rstrip(b"=") + b"-"


# One 100 KB entity, declared on a line of its own (feedparser keeps such "safe" entities for
# its loose parser) and referenced by 2,000 items: some 200 MB once expanded.
EXPANDING = utf7(
    '<!DOCTYPE rss [\n<!ENTITY big "'
    + "x" * 100_000
    + '">\n]><rss version="2.0"><channel>'
    + "".join(f"<item><guid>b{n}</guid><title>&big;</title></item>" for n in range(2000))
    + "</channel></rss>"
)


def flat_gzip_bomb(inflated_mib: int) -> bytes:
    """A gzip body (no trailer) of `inflated_mib` MiB of zeros, about 1 KiB per MiB, made in
    milliseconds: after a full flush, every further MiB of zeros compresses to the same bytes."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(MiB)
    first = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    return first + block * (inflated_mib - 1)
