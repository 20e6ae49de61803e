"""`make demo`: the whole pipeline, offline, on real recorded news.

Serves seeds/feeds/ (recorded feeds of Dawn, Geo, The News, Al Jazeera, BBC Urdu and others)
from an HTTP server on 127.0.0.1, writes a demo configuration under var/demo/ that points at
it, then runs, as a user would: `monitor db upgrade`, `monitor check`, `monitor digest send`.
The digest lands in var/demo/outbox/ as an .eml file plus an HTML preview.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FEEDS = ROOT / "seeds" / "feeds"
WORK = ROOT / "var" / "demo"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def feed_title(path: Path) -> str:
    if path.suffix == ".json":
        return str(json.loads(path.read_text(encoding="utf-8"))["title"])
    head = path.read_bytes()[:4000].decode("utf-8", "replace")
    found = re.search(r"<title>(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?</title>", head, re.S)
    return found.group(1).strip() if found else path.stem


def toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def write_config(port: int) -> Path:
    lines = [
        "# Written by scripts/demo.py: the demo polls recorded feeds served on 127.0.0.1.",
        f"rules = {toml_str(str(ROOT / 'config' / 'rules.toml'))}",
        "[database]",
        f"url = {toml_str('sqlite:///' + str(WORK / 'monitor.db'))}",
        "[fetch]",
        'allow_networks = ["127.0.0.1/32"]',
        "per_host = 8",
        "per_host_spacing_seconds = 0",  # every demo feed is served by one local server
        "[delivery]",
        f"outbox = {toml_str(str(WORK / 'outbox'))}",
        "[digest]",
        'from = "monitor@frontier-monitor.example"',
        'timezone = "Asia/Karachi"',
        "max_stories = 120",
        "[[digest.recipients]]",
        'address = "analyst@frontier-monitor.example"',
    ]
    names: set[str] = set()
    for path in sorted(FEEDS.iterdir()):
        name = feed_title(path)
        while name in names:
            name += " (2)"
        names.add(name)
        lang = "ur" if "urdu" in path.name else "ps" if "pashto" in path.name else "en"
        lines += [
            "[[feeds]]",
            f"name = {toml_str(name)}",
            f"url = {toml_str(f'http://127.0.0.1:{port}/{path.name}')}",
            f'language = "{lang}"',
        ]
    config = WORK / "monitor.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def monitor(config: Path, *args: str) -> None:
    print(f"\n$ monitor {' '.join(args)}", flush=True)
    env = {**os.environ, "MONITOR_CONFIG": str(config)}
    exe = Path(sys.executable).with_name("monitor")
    subprocess.run([str(exe), *args], check=True, env=env, cwd=ROOT)


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(FEEDS))
    )
    server.socket.listen(128)  # not socketserver's 5: a pass opens several connections at once
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    print(f"Serving {len(list(FEEDS.iterdir()))} recorded feeds from http://127.0.0.1:{port}/")
    config = write_config(port)
    try:
        monitor(config, "db", "upgrade")
        monitor(config, "check")
        monitor(config, "digest", "preview")
        monitor(config, "digest", "send")
    finally:
        server.shutdown()
    emls = sorted((WORK / "outbox").glob("*.eml"))
    previews = sorted((WORK / "outbox").glob("preview-*.html"))
    print("\nDone. The demo's files:")
    print(f"  config:   {config.relative_to(ROOT)}")
    print(f"  database: {(WORK / 'monitor.db').relative_to(ROOT)}")
    for eml in emls:
        kind = "alert" if "-alert-" in eml.name else "digest"
        print(f"  {kind + ':':<9} {eml.relative_to(ROOT)}  (a complete email)")
    for html in previews:
        print(f"  preview:  {html.relative_to(ROOT)}  (open in a browser)")
    print(f"Try: MONITOR_CONFIG={config.relative_to(ROOT)} .venv/bin/monitor feeds list")


if __name__ == "__main__":
    main()
