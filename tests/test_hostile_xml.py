"""faults.md cases 1–4 and 13: hostile XML and bodies that are paths or URLs."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import RELEVANT_RSS, run, write_config
from fetchutil import scalar, texts
from hostile import EXPANDING, UTF7_DECL, utf7
from servers import FeedServer

from monitor.errors import FeedError
from monitor.parse import parse_feed

ITEM = "<item><guid>x1</guid><title>Torkham &lol9;</title></item>"
LAUGHS = (
    '<!DOCTYPE rss [\n<!ENTITY lol "lol">\n'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">\n'
        for i in range(1, 10)
    )
    + "]>\n"
)


def doc(prologue: str, encoding: str = "utf-8", decl: str = "") -> bytes:
    decl = decl or f'<?xml version="1.0" encoding="{encoding}"?>'
    body = f'{decl}{prologue}<rss version="2.0"><channel><title>t</title>{ITEM}</channel></rss>'
    return body.encode(encoding)


BILLION_LAUGHS = {
    "doctype on its own line": doc("\n" + LAUGHS),
    "doctype on the xml line": doc(LAUGHS.replace("\n", " ")),
    "after 70 KiB of comments": doc("\n" + "<!-- padding -->\n" * 4500 + LAUGHS),
    "utf-16": doc("\n" + LAUGHS, "utf-16"),
    "utf-16 big endian without bom": doc("\n" + LAUGHS, "utf-16-be"),
}
QUADRATIC = doc('<!DOCTYPE rss [<!ENTITY big "' + "x" * 100_000 + '">]>').replace(
    b"&lol9;", b"&big;" * 10_000
)


@pytest.mark.parametrize("name", sorted(BILLION_LAUGHS))
def test_billion_laughs_is_rejected_fast(
    name: str, tmp_path: Path, feed_server: FeedServer, db_url: str
) -> None:  # case 1
    url = feed_server.feed("/laughs.xml", BILLION_LAUGHS[name])
    config = write_config(tmp_path, db_url=db_url, feeds=[("laughs", url)])
    started = time.monotonic()
    result = run(config, "check")
    assert time.monotonic() - started < 10
    assert "entity declarations are not allowed" in result.output
    assert scalar(db_url, "SELECT count(*) FROM item") == 0
    assert scalar(db_url, "SELECT error_streak FROM feed") == 1
    assert "entity declarations" in scalar(db_url, "SELECT last_error FROM feed")


def test_quadratic_blowup_is_rejected_fast() -> None:  # case 4
    started = time.monotonic()
    with pytest.raises(FeedError, match="entity declarations are not allowed"):
        parse_feed(QUADRATIC, "http://example.org/q.xml")
    assert time.monotonic() - started < 2


def test_external_entities_are_rejected_and_never_fetched(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:  # case 2
    secret = feed_server.feed("/secret.txt", b"TOP-SECRET", "text/plain")
    bodies = {
        "/file.xml": doc('<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'),
        "/http.xml": doc(f'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{secret}">]>'),
        "/param.xml": doc(f'<!DOCTYPE rss [<!ENTITY % p SYSTEM "{secret}"> %p;]>'),
    }
    feeds = [
        (path, feed_server.feed(path, body.replace(b"&lol9;", b"&xxe;")))
        for path, body in bodies.items()
    ]
    config = write_config(tmp_path, db_url=sqlite_url, feeds=feeds)
    result = run(config, "check")
    assert "failures: 3" in result.output
    assert feed_server.hits["/secret.txt"] == 0
    assert not any("root:" in t or "TOP-SECRET" in t for t in texts(sqlite_url))


def test_external_dtd_parses_and_is_never_fetched(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:  # case 3
    dtd = feed_server.feed("/rss.dtd", b'<!ENTITY lol9 "pwned">', "application/xml-dtd")
    body = doc(f'<!DOCTYPE rss PUBLIC "-//Netscape//DTD RSS 0.91//EN" "{dtd}">').replace(
        b" &lol9;", b""
    )
    url = feed_server.feed("/dtd.xml", body)
    config = write_config(tmp_path, db_url=sqlite_url, feeds=[("dtd", url)])
    result = run(config, "check")
    assert "failures: 0" in result.output, result.output
    assert scalar(sqlite_url, "SELECT title FROM item") == "Torkham"
    assert feed_server.hits["/rss.dtd"] == 0


@pytest.mark.parametrize(
    "body", [b"/etc/passwd", b"file:///etc/passwd", b"  /etc/hostname\n", b"http://SERVER/secret"]
)
def test_body_that_is_a_path_or_url_is_parsed_as_bytes(
    body: bytes, tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:  # case 13
    feed_server.feed("/secret", b"<rss><channel><item><title>SECRET</title></item></channel></rss>")
    body = body.replace(b"SERVER", f"127.0.0.1:{feed_server.port}".encode())
    url = feed_server.feed("/path.xml", body, "text/plain")
    config = write_config(tmp_path, db_url=sqlite_url, feeds=[("path", url)])
    result = run(config, "check")
    assert "not a feed" in result.output
    assert feed_server.hits["/secret"] == 0
    assert scalar(sqlite_url, "SELECT count(*) FROM item") == 0


# -- issue #18: markup hidden in an encoding that is not ASCII-compatible -------------------


CLEAN = '<rss version="2.0"><channel><title>t</title><item><guid>c1</guid><title>Chaman</title>'
CLEAN += "</item></channel></rss>"
REFUSED_ENCODINGS = {
    "utf-7 declared": (UTF7_DECL + utf7(LAUGHS + CLEAN), "application/rss+xml"),
    "utf-7 as the charset": (utf7(LAUGHS + CLEAN), "application/rss+xml; charset=utf-7"),
    "ebcdic": (('<?xml version="1.0" encoding="cp037"?>' + CLEAN).encode("cp037"), "text/xml"),
    "utf-16 by charset alone": (CLEAN.encode("utf-16-le"), "application/xml; charset=utf-16le"),
}


def test_encodings_that_hide_markup_are_refused(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    feeds = [("good", feed_server.feed("/good.xml", RELEVANT_RSS))]
    for n, (body, ctype) in enumerate(REFUSED_ENCODINGS.values()):
        feeds.append((f"bad{n}", feed_server.feed(f"/bad{n}.xml", body, ctype)))
    config = write_config(tmp_path, db_url=sqlite_url, feeds=feeds)
    result = run(config, "check")
    assert result.exit_code == 0, result.output
    assert f"failures: {len(REFUSED_ENCODINGS)}" in result.output, result.output
    assert scalar(sqlite_url, "SELECT count(*) FROM item") == 3  # the good feed's
    refused = "SELECT count(*) FROM feed WHERE last_error LIKE 'not a feed: encoding % refused%'"
    assert scalar(sqlite_url, refused) == len(REFUSED_ENCODINGS)
    for name in ("utf-7", "cp037", "utf-16le"):
        assert f"encoding '{name}' refused" in result.output, name


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("utf-16 with bom", ('<?xml version="1.0" encoding="utf-16"?>' + CLEAN).encode("utf-16")),
        (
            "utf-16 announced by its <?",
            ('<?xml version="1.0" encoding="utf-16"?>' + CLEAN).encode("utf-16-le"),
        ),
        ("utf-32 with bom", ('<?xml version="1.0" encoding="utf-32"?>' + CLEAN).encode("utf-32")),
        ("shift_jis", ('<?xml version="1.0" encoding="shift_jis"?>' + CLEAN).encode("shift_jis")),
    ],
)
def test_announced_unicode_and_ascii_compatible_encodings_are_read(name: str, body: bytes) -> None:
    parsed = parse_feed(body, "http://example.org/f.xml", "application/xml")
    assert [e.get("title") for e in parsed.entries] == ["Chaman"]


def test_decoded_text_is_checked_for_an_internal_subset() -> None:
    # UTF-7 aside: were an encoding to hide markup and pass, the decoded text is checked.
    from monitor.parse import decoded_refusal

    text = ('<?xml version="1.0" encoding="utf-8"?>' + LAUGHS + CLEAN).encode()
    assert decoded_refusal(text, {"content-type": "application/xml"}) == (
        "entities",
        "entity declarations are not allowed in feeds",
    )
    assert decoded_refusal(CLEAN.encode(), {"content-type": "application/xml"}) is None


PEAK_MEMORY_OF_A_PARSE = """
import sys
from monitor.errors import FeedError
from monitor.parse import parse_feed

def peak_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

body = sys.stdin.buffer.read()
parse_feed(b"<rss version='2.0'><channel><title>t</title></channel></rss>", "http://e.org/")
before = peak_kib()
try:
    parse_feed(body, "http://example.org/f.xml", "application/rss+xml")
    print("parsed")
except FeedError as exc:
    print(exc.kind + ": " + exc.message)
print((peak_kib() - before) // 1024)
"""


def test_entity_expansion_through_utf7_is_refused_in_bounded_memory() -> None:
    body = UTF7_DECL + EXPANDING
    done = subprocess.run(
        [sys.executable, "-c", PEAK_MEMORY_OF_A_PARSE],
        input=body,
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    outcome, grown_mib = done.stdout.decode().splitlines()
    assert outcome.startswith("parse: not a feed: encoding 'utf-7' refused"), outcome
    assert int(grown_mib) < 64, grown_mib  # expanded, it is some 200 MB
