"""Scripts can ask: --json on the listing commands, and FEED arguments complete in the shell."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import RELEVANT_RSS, run, send_time_passed, write_config
from servers import FeedServer


def polled_site(tmp_path: Path, feed_server: FeedServer, sqlite_url: str) -> Path:
    """A config whose one feed has been polled and whose digest has been sent to the outbox."""
    url = feed_server.feed("/f.xml", RELEVANT_RSS)
    send_at = send_time_passed("Asia/Karachi", 5)
    config = write_config(
        tmp_path,
        db_url=sqlite_url,
        feeds=[("Frontier Post", url)],
        digest_extra=f'send_at = "{send_at}"',
    )
    assert run(config, "check").exit_code == 0
    sent = run(config, "digest", "send")
    assert sent.exit_code == 0, sent.output
    return config


def json_of(config: Path, *args: str) -> object:
    result = run(config, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_listings_speak_json(tmp_path: Path, feed_server: FeedServer, sqlite_url: str) -> None:
    config = polled_site(tmp_path, feed_server, sqlite_url)

    feeds = json_of(config, "feeds", "list")
    assert isinstance(feeds, list) and len(feeds) == 1
    assert feeds[0]["name"] == "Frontier Post" and feeds[0]["status"] == "ok"
    assert feeds[0]["error_streak"] == 0 and feeds[0]["last_success"].startswith("20")

    stories = json_of(config, "stories", "list")
    assert isinstance(stories, list) and len(stories) == 2  # the two matching items
    titles = {s["title"] for s in stories}
    assert "Torkham border crossing closed after firing" in titles
    assert all(s["outlets"] == ["Frontier Post"] and s["topics"] for s in stories)

    story = json_of(config, "stories", "show", str(stories[0]["id"]))
    assert isinstance(story, dict) and story["id"] == stories[0]["id"]
    (report,) = story["reports"]
    assert report["outlet"] == "Frontier Post" and report["link"].startswith("https://")
    assert story["updates"] == []

    digests = json_of(config, "digest", "list")
    assert isinstance(digests, list)
    # The TTP attack went out as an alert after the pass, then the digest with both stories.
    assert [(d["kind"], d["status"]) for d in digests] == [("digest", "sent"), ("alert", "sent")]
    assert digests[0]["recipient"] == "analyst@example.org" and digests[0]["story_count"] == 2


def test_status_json_and_exit_status_without_a_daemon(tmp_path: Path, sqlite_url: str) -> None:
    config = write_config(tmp_path, db_url=sqlite_url)
    text = run(config, "status")
    assert text.exit_code == 1 and "daemon: not running" in text.output
    result = run(config, "status", "--json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["daemon"]["state"] == "not running" and data["daemon"]["daemons"] == []
    assert data["digests"] == {"pending": 0, "failed_recent": 0}
    assert [d["recipient"] for d in data["next_digests"]] == ["analyst@example.org"]


def complete(config: Path, line: str) -> list[str]:
    """What bash completion offers for `line` (everything after `monitor `), as a shell would
    ask it: the program run with _MONITOR_COMPLETE=bash_complete."""
    words = ["monitor", *line.split(" ")]
    env = {
        **os.environ,
        "_MONITOR_COMPLETE": "bash_complete",
        "COMP_WORDS": " ".join(words),
        "COMP_CWORD": str(len(words) - 1),
        "MONITOR_CONFIG": str(config),
    }
    done = subprocess.run(
        [sys.executable, "-c", "from monitor.cli import main; main(prog_name='monitor')"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    # bash_complete prints "type,value" lines
    return [row.partition(",")[2] for row in done.stdout.splitlines()]


def test_feed_arguments_complete_to_feed_names(tmp_path: Path, sqlite_url: str) -> None:
    config = write_config(
        tmp_path,
        db_url=sqlite_url,
        feeds=[
            ("Dawn", "https://www.dawn.com/feeds/home"),
            ("Daily Times", "https://dailytimes.com.pk/feed/"),
            ("Geo", "https://www.geo.tv/rss/1/1"),
        ],
    )
    assert run(config, "feeds", "list").exit_code == 0  # registers the feeds in the database
    assert complete(config, "feeds disable Da") == ["Dawn", "Daily Times"]
    assert complete(config, "feeds enable g") == ["Geo"]
    assert complete(config, "check --feed ") == ["Dawn", "Daily Times", "Geo"]
