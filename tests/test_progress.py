"""`monitor check` on a terminal shows a progress bar; piped or --quiet, it does not.

The terminal is a real pseudo-terminal: `monitor check` runs as a subprocess with its
output on the pty's far end, and the test reads what it drew.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

from conftest import RELEVANT_RSS, run, write_config
from servers import FeedServer, Response

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")
BAR = "2/2 feeds, 3 new items, 2 matches, 1 failures"


def on_terminal(config: Path, *args: str) -> str:
    """What `monitor ARGS` writes to a 160-column terminal, control sequences removed."""
    main, far = pty.openpty()
    fcntl.ioctl(far, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "MONITOR_CONFIG": str(config)}
    for name in ("NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "FORCE_COLOR", "COLUMNS"):
        env.pop(name, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", *args], stdin=far, stdout=far, stderr=far, env=env
    )
    os.close(far)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the child has closed its end
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    assert proc.wait(timeout=120) == 0, b"".join(chunks).decode("utf-8", "replace")
    return ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))


def site(tmp_path: Path, feed_server: FeedServer, sqlite_url: str) -> Path:
    good = feed_server.feed("/good.xml", RELEVANT_RSS)
    bad = feed_server.route("/bad.xml", Response(404, b"gone fishing"))
    return write_config(
        tmp_path, db_url=sqlite_url, feeds=[("Good", good), ("Bad", bad)], recipients=()
    )


def test_check_on_a_terminal_shows_feeds_done_items_matches_failures(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    shown = on_terminal(site(tmp_path, feed_server, sqlite_url), "check")
    assert "polling" in shown and BAR in shown, shown
    assert "new items: 3, new matches: 2, failures: 1" in shown  # then the summary


def test_check_piped_or_quiet_prints_no_progress(
    tmp_path: Path, feed_server: FeedServer, sqlite_url: str
) -> None:
    config = site(tmp_path, feed_server, sqlite_url)
    piped = run(config, "check", "--dry-run")
    assert piped.exit_code == 0
    assert "polling" not in piped.output and "New matching items" in piped.output
    quiet = on_terminal(config, "check", "--quiet")
    assert quiet.strip().splitlines() == [
        "feeds polled: 2, not modified: 0, new items: 3, new matches: 2, failures: 1"
    ]
