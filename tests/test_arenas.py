"""`monitor run` caps glibc's malloc arenas, so a daemon's threads do not spread its memory
over more and more of them (monitor.arenas); other commands leave the process alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Eight threads alive at once, each allocating (below malloc's mmap threshold), then glibc's
# own account of its arenas: malloc_info writes one <heap> element per arena.
CHILD = """
import ctypes, sys, tempfile, threading
from monitor.arenas import limit_malloc_arenas
if sys.argv[1] == "capped":
    assert limit_malloc_arenas()
elif sys.argv[1] != "default":  # a command line: run it, then count the arenas after it
    from monitor.cli import main
    try:
        main(sys.argv[1:], prog_name="monitor")
    except SystemExit:
        pass
together = threading.Barrier(8)
def allocate():
    block = bytearray(64 * 1024)
    block[0] = 1
    together.wait()  # an exited thread's arena would be handed to the next thread
threads = [threading.Thread(target=allocate) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
libc.fclose.argtypes = (ctypes.c_void_p,)
with tempfile.NamedTemporaryFile(suffix=".xml") as out:
    f = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, f)
    libc.fclose(f)
    print(open(out.name).read().count("<heap nr="))
"""


def _arenas(*mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, *mode], env=env, capture_output=True, text=True, check=True
    )
    return int(out.stdout.splitlines()[-1])


def test_only_monitor_run_caps_the_arenas(tmp_path: Path) -> None:
    if not hasattr(os, "confstr") or os.confstr("CS_GNU_LIBC_VERSION") is None:
        pytest.skip("malloc arenas are glibc's")
    config = tmp_path / "monitor.toml"
    # An empty database: `run` refuses it (exit 2) right after its start-up tuning.
    config.write_text(f"[database]\nurl = 'sqlite:///{tmp_path / 'empty.db'}'\n")
    assert _arenas("--config", str(config), "config", "show") > 2
    assert _arenas("--config", str(config), "run") == 1


def test_threads_share_one_malloc_arena() -> None:
    if not hasattr(os, "confstr") or os.confstr("CS_GNU_LIBC_VERSION") is None:
        pytest.skip("malloc arenas are glibc's")
    assert _arenas("default") > 2  # each new thread that allocates gets an arena of its own
    assert _arenas("capped") == 1


def test_an_arena_count_set_by_the_environment_is_left_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from monitor.arenas import limit_malloc_arenas

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False
