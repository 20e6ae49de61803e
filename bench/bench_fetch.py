"""Cold and warm poll passes: Frontier Monitor vs lemon24's `reader`, plus feedparser as floor.

Serves a generated corpus (bench/corpus.py) on 127.0.0.1 with ETag / Last-Modified, from
nginx where it is installed (Debian's package nginx-light will do), else from Python's threaded
server (also with BENCH_SERVER=python, or with added latency: BENCH_LATENCY_MS), then times,
each in its own process: `monitor check --all` cold and warm, reader's
update_feeds(scheduled=False) cold and warm (from a separate venv in bench/.work/, never a
project dependency), and as floors over the same bytes: bare feedparser.parse (default and
lean) and monitor's parse_feed alone (the lxml fast path, feedparser for what it declines).
Prints wall, CPU and peak memory of the whole process tree (CPU from RUSAGE_CHILDREN with this
process as subreaper, so the parse pool's workers count; memory as the peak of the tree's
summed RSS, and of its summed PSS, which counts a page shared by several processes once,
sampled every 20 ms), items/s and the ratios. Every run is measured the same way. Nothing is
asserted.

Ours and reader run in rounds (BENCH_ROUNDS, default 3), each round from fresh databases and
with the two taking turns to go first; the figures are medians over the rounds, and the
ratios are given both as the ratio of the medians and for each round alone. The machines
this runs on are shared: the same pass took from 25 to 32 s of CPU from one run to the next.

All bench feeds are on one host (127.0.0.1) and reader has no per-host limits, so ours run
with per_host equal to the global concurrency and no per-host spacing; the output says so.

    BENCH_FEEDS=500 BENCH_ROUNDS=3 python bench/bench_fetch.py
"""

from __future__ import annotations

import hashlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work"
READER_VENV = WORK / "reader-venv"
FEEDS = int(os.environ.get("BENCH_FEEDS", "500"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "8"))
LATENCY = float(os.environ.get("BENCH_LATENCY_MS", "0")) / 1000
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
# Processes of the bench's own (its nginx) that a run's memory must not count.
NOT_MEASURED: set[int] = set()
sys.path.insert(0, str(HERE))

from corpus import VERSION, generate  # noqa: E402
from httpd import Nginx, Server, nginx_binary, serve  # noqa: E402
from proctree import tree_memory_mib  # noqa: E402


def serve_corpus(files: list[Path]) -> tuple[Server | Nginx, int, str]:
    """Serve the corpus: with nginx where it is installed (and no latency is asked for:
    nginx has no delay of its own), else with Python's threaded server. BENCH_SERVER=python
    forces the latter."""
    binary = nginx_binary()
    if binary and not LATENCY and os.environ.get("BENCH_SERVER") != "python":
        nginx = Nginx(binary, files[0].parent, WORK / "nginx")
        NOT_MEASURED.add(nginx.proc.pid)
        return nginx, nginx.port, f"nginx ({binary}, one worker)"
    httpd = _python_server(files)
    return httpd, httpd.server_address[1], "Python's threaded server"


def _python_server(files: list[Path]) -> Server:
    docs = {f"/{p.name}": p.read_bytes() for p in files}
    etags = {k: '"' + hashlib.sha1(v).hexdigest()[:16] + '"' for k, v in docs.items()}
    modified = formatdate(1767225600, usegmt=True)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if LATENCY:
                time.sleep(LATENCY)
            body = docs.get(self.path)
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.headers.get("If-None-Match") == etags[self.path]:
                self.send_response(304)
                self.send_header("ETag", etags[self.path])
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ETag", etags[self.path])
            self.send_header("Last-Modified", modified)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return serve(Handler)


def become_subreaper() -> None:
    """Adopt orphaned descendants (Linux), so that a worker whose parent exited first is
    still reaped by us and its CPU time still counts in RUSAGE_CHILDREN."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def timed(argv: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """Run argv; wall time, CPU of the whole process tree (worker processes included) and the
    peak of the tree's summed RSS (and PSS), sampled every 20 ms."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak = [0.0, 0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.02):
            rss, pss = tree_memory_mib(os.getpid(), skip=NOT_MEASURED)
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert proc.stdout is not None
    out = proc.stdout.read()
    status = proc.wait()
    wall = time.perf_counter() - started
    # Reap descendants that outlived the child (we are their subreaper), so they count too.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.02)
    done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if status != 0:
        print(out.decode(errors="replace")[-3000:])
        raise SystemExit(f"{argv[:3]} failed")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "wall": wall,
        "cpu": cpu,
        "rss": peak[0],
        "pss": peak[1],
        "out": out.decode(errors="replace"),  # type: ignore[dict-item]
    }


READER_SCRIPT = textwrap.dedent(
    """
    import sys
    from reader import make_reader
    db, urls = sys.argv[1], open(sys.argv[2]).read().split()
    r = make_reader(db)
    for u in urls:
        r.add_feed(u, exist_ok=True)
    r.update_feeds(scheduled=False, workers=int(sys.argv[3]))
    print("entries", r.get_entry_counts().total)
    """
)

FLOOR_SCRIPT = textwrap.dedent(
    """
    import sys
    mode, paths = sys.argv[1], sys.argv[2:]
    n = 0
    if mode == "fast":
        from monitor.parse import parse_feed
        for path in paths:
            url = "http://127.0.0.1/" + path.rsplit("/", 1)[-1]
            n += len(parse_feed(open(path, "rb").read(), url, "application/xml").entries)
    else:
        import feedparser
        lean = mode == "lean"
        for path in paths:
            data = open(path, "rb").read()
            d = feedparser.parse(data, sanitize_html=not lean, resolve_relative_uris=not lean)
            n += len(d.entries)
    print("entries", n)
    """
)


def write_config(folder: Path, files: list[Path], urls: list[str]) -> Path:
    """A config of our monitor for the corpus, with a database of its own in `folder`."""
    config = folder / "monitor.toml"
    lines = [
        f'rules = "{ROOT / "config" / "rules.toml"}"',
        f'[database]\nurl = "sqlite:///{folder / "monitor.db"}"',
        # Every bench feed is on one host; the per-host politeness limits would measure the
        # limiter, not the work, and reader has no such limits.
        f'[fetch]\nallow_networks = ["127.0.0.1/32"]\nconcurrency = {CONCURRENCY}\n'
        f"per_host = {CONCURRENCY}\nper_host_spacing_seconds = 0",
        "[digest]\nfrom = 'bench@example.org'",
    ]
    lines += [
        f'[[feeds]]\nname = "{p.name}"\nurl = "{u}"' for p, u in zip(files, urls, strict=True)
    ]
    config.write_text("\n".join(lines) + "\n")
    return config


def main() -> None:
    corpus_dir = WORK / f"corpus-v{VERSION}-{FEEDS}"
    files = sorted(corpus_dir.glob("*.xml")) or generate(corpus_dir, FEEDS)
    size = sum(p.stat().st_size for p in files)
    httpd, port, server = serve_corpus(files)
    urls = [f"http://127.0.0.1:{port}/{p.name}" for p in files]
    py = str(Path(sys.executable))
    tmp = Path(tempfile.mkdtemp(prefix="bench-", dir=WORK))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # Byte-compiled as pip leaves an installed package (reader's is): where the environment
    # sets PYTHONDONTWRITEBYTECODE, every run would otherwise compile our modules anew.
    subprocess.run([py, "-m", "compileall", "-q", str(ROOT / "monitor")], check=True)
    runs: dict[str, list[dict[str, float]]] = {}
    become_subreaper()
    print(f"corpus: {len(files)} feeds, {size / 1e6:.1f} MB; latency {LATENCY * 1000:.0f} ms")
    print(f"server: {server} on 127.0.0.1:{port}")
    print(
        f"ours: concurrency {CONCURRENCY}, per_host {CONCURRENCY}, per_host_spacing_seconds 0 "
        "(one host; reader has no per-host limits); parse workers: the default, one per "
        f"core but one ({max((os.cpu_count() or 1) - 1, 0)}; 0 = a thread)"
    )

    def ours(folder: Path) -> None:
        config = write_config(folder, files, urls)
        cli = [py, "-c", "from monitor.cli import main; main()", "--config", str(config)]
        subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
        check = [*cli, "check", "--all"]
        runs.setdefault("ours cold", []).append(timed(check, env))
        runs.setdefault("ours warm", []).append(timed(check, env))

    rpy = READER_VENV / "bin" / "python"
    workers = os.environ.get("BENCH_READER_WORKERS", "1")
    if rpy.exists():
        (tmp / "urls.txt").write_text("\n".join(urls))
        (tmp / "reader_run.py").write_text(READER_SCRIPT)
        print(f"reader: update_feeds(workers={workers})")
    else:
        print(f"reader skipped: create {READER_VENV} and `pip install reader sgmllib3k` in it")

    def reader(folder: Path) -> None:
        db = folder / "reader.sqlite"
        argv = [str(rpy), str(tmp / "reader_run.py"), str(db), str(tmp / "urls.txt"), workers]
        runs.setdefault("reader cold", []).append(timed(argv))
        runs.setdefault("reader warm", []).append(timed(argv))

    # Each round gives both a fresh database; who goes first alternates, so that a machine
    # growing slower or faster during the run favours neither.
    print(f"rounds: {ROUNDS} (each: cold then warm, ours and reader taking turns to go first)")
    for round_ in range(ROUNDS):
        folder = tmp / f"round-{round_ + 1}"
        folder.mkdir()
        order = [ours, reader] if round_ % 2 == 0 else [reader, ours]
        for contender in order:
            if contender is reader and not rpy.exists():
                continue
            contender(folder)
    items = int(str(runs["ours cold"][0]["out"]).split("new items: ")[1].split(",")[0])
    (tmp / "floor.py").write_text(FLOOR_SCRIPT)
    paths = [str(p) for p in files]
    runs["feedparser (default)"] = [timed([py, str(tmp / "floor.py"), "full", *paths])]
    runs["feedparser (lean)"] = [timed([py, str(tmp / "floor.py"), "lean", *paths])]
    runs["parse_feed (fast path)"] = [timed([py, str(tmp / "floor.py"), "fast", *paths], env)]
    httpd.shutdown()
    print(
        f"{'run (process tree)':24} {'wall s':>8} {'range':>13} {'cpu s':>8} {'RSS MiB':>8}"
        f" {'PSS MiB':>8} {'items/s':>8}"
    )
    for name, rs in runs.items():
        wall = [r["wall"] for r in rs]
        spread = f"{min(wall):.2f}-{max(wall):.2f}" if len(rs) > 1 else ""
        mid = {k: statistics.median([r[k] for r in rs]) for k in ("wall", "cpu", "rss", "pss")}
        print(
            f"{name:24} {mid['wall']:8.2f} {spread:>13} {mid['cpu']:8.2f} {mid['rss']:8.1f}"
            f" {mid['pss']:8.1f} {items / mid['wall']:8.0f}"
        )
    print("(medians over the rounds; range: the fastest and slowest wall time)")
    if "reader cold" in runs:
        for a, b, key, what, target in (
            ("ours cold", "reader cold", "wall", "wall", 0.3),
            ("ours warm", "reader warm", "wall", "wall", 0.5),
            ("ours cold", "reader cold", "rss", "peak RSS", 2),
            ("ours cold", "reader cold", "pss", "peak PSS", 2),
        ):
            paired = [x[key] / y[key] for x, y in zip(runs[a], runs[b], strict=True)]
            ratio = statistics.median([r[key] for r in runs[a]]) / statistics.median(
                [r[key] for r in runs[b]]
            )
            each = ", ".join(f"{r:.2f}" for r in paired)
            print(f"{a} / {b}: {what} {ratio:.2f}x (target <= {target}x; each round: {each})")


if __name__ == "__main__":
    main()
