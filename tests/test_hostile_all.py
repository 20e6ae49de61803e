"""Issue #18's acceptance: every hostile feed of the review at once, beside a good feed, in one
`monitor check` run as a real process. The pass finishes and exits 0 with no traceback, the
good feed's items are stored, each hostile feed gets its items or a failure that names the
problem, and no process of the pass grows past 300 MiB."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import RELEVANT_RSS, rss, write_config
from fetchutil import scalar
from hostile import EXPANDING, UTF7_DECL, flat_gzip_bomb
from servers import FeedServer, Response

from monitor.store import Store

JSON_FEED = "application/feed+json"
JSON_HEAD = '{"version": "https://jsonfeed.org/version/1.1", "title": "J", '


def hostile_feeds(server: FeedServer) -> dict[str, str]:
    """Each trigger of the review, served on its own path."""
    plain = rss(("p1", "Curfew in Bajaur after firing", "Officials said."))
    many = "".join(f"<item><title>t{n}</title></item>" for n in range(250_001))
    far_date = {
        "id": "d1",
        "url": "https://news.example.org/d1",
        "title": "Torkham border crossing closed after firing",
        "date_published": "9999-12-31T23:59:59-01:00",
    }
    return {
        "max-age": server.feed("/age.xml", plain, **{"Cache-Control": "max-age=" + "9" * 14}),
        "retry-after": server.route("/503.xml", Response(503, b"", {"Retry-After": "9" * 14})),
        "ethiopic": server.feed(
            "/digit.xml", rss(("e1", "TTP attack on check post kills ፩ soldier", "In Bajaur."))
        ),
        "far-date": server.feed(
            "/date.json", (JSON_HEAD + f'"items": [{json.dumps(far_date)}]}}').encode(), JSON_FEED
        ),
        "deep-json": server.feed(
            "/deep.json",
            (JSON_HEAD + '"items": ' + "[" * 100_000 + "]" * 100_000 + "}").encode(),
            JSON_FEED,
        ),
        "many-items": server.feed(
            "/many.xml",
            f'<rss version="2.0"><channel><title>M</title>{many}</channel></rss>'.encode(),
        ),
        "utf-7": server.feed("/utf7.xml", UTF7_DECL + EXPANDING),
        "markup": server.feed(
            "/markup.xml",
            rss(("m1", "Chaman border crossing closed [/video] [link=x]y", "Traders.")),
        ),
        "reason": server.route("/reason.xml", Response(404, b"", reason="Not [/] Found")),
        "etag": server.feed("/etag.xml", plain, ETag='"café-v1"'),
        "gzip-bomb": server.route(
            "/bomb.xml",
            Response(
                200,
                flat_gzip_bomb(1024),
                {"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"},
            ),
        ),
    }


# Runs `monitor check` as a child and reports the largest resident size of it and of every
# process it started (the parse workers): RUSAGE_CHILDREN covers all reaped descendants.
PEAK_OF_A_CHECK = """
import resource, subprocess, sys
done = subprocess.run([sys.executable, "-m", "monitor", "--config", sys.argv[1], "check"],
                      capture_output=True, text=True)
sys.stdout.write(done.stdout)
sys.stderr.write(done.stderr)
print("exit", done.returncode)
print("peak_mib", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
"""


def test_every_hostile_feed_at_once_beside_a_good_one(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    feeds = [
        ("good", feed_server.feed("/good.xml", RELEVANT_RSS)),
        *hostile_feeds(feed_server).items(),
    ]
    config = write_config(tmp_path, db_url=sqlite_url, feeds=feeds)
    done = subprocess.run(
        [sys.executable, "-c", PEAK_OF_A_CHECK, str(config)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-2] == "exit 0", output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert int(lines[-1].split()[1]) < 300, lines[-1]

    with Store(sqlite_url) as store:
        health = {h.name: h for h in store.feed_health()}

    def items(name: str) -> int:
        return int(
            scalar(
                sqlite_url,
                "SELECT count(*) FROM item JOIN feed ON feed.id = item.feed_id "
                f"WHERE feed.name = '{name}'",
            )
        )

    assert items("good") == 3 and health["good"].error_streak == 0
    # Fed as they were, after their fault was bounded:
    for name in ("max-age", "ethiopic", "far-date", "markup", "etag"):
        assert health[name].error_streak == 0, (name, health[name].last_error)
        assert items(name) == 1, name
    assert items("many-items") == 5000
    assert "kept the first 5,000 of 250,001 items" in output
    # Failed, each with its own reason:
    reasons = {
        "retry-after": "HTTP 503",
        "deep-json": "nested too deeply",
        "utf-7": "encoding 'utf-7' refused",
        "reason": "HTTP 404 Not [/] Found",
        "gzip-bomb": "response too large",
    }
    for name, reason in reasons.items():
        assert health[name].error_streak == 1, name
        assert reason in (health[name].last_error or ""), (name, health[name].last_error)
    assert "internal error" not in output  # each was stopped where it arose
