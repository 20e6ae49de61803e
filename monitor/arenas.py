"""How many malloc arenas glibc may make for this process: one, not eight per core.

glibc gives each new thread that allocates an arena of its own, up to eight per core, and
returns memory freed in such an arena to the system only from its top. A daemon whose
every pass runs fresh threads (the event loop's executor, the parse pool's feeders, the
scheduler's jobs) spread its allocations over more and more arenas: `bench/bench_soak.py`
showed its resident memory growing in steps, about 15% over 800 ticks (as much with two
arenas), and within 3% with only the main one. The threads seldom compete for malloc:
Python's small objects come from its own allocator, under the GIL. Called by `monitor run`
at start, and only there: a short command has no time to spread over arenas (the systemd
unit also sets MALLOC_ARENA_MAX=1). Elsewhere than on glibc, or where the environment sets
MALLOC_ARENA_MAX itself, it does nothing.
"""

from __future__ import annotations

import ctypes
import os

M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h


def limit_malloc_arenas(count: int = 1) -> bool:
    """Cap glibc's malloc arenas at `count`; whether it was done."""
    if "MALLOC_ARENA_MAX" in os.environ or not _glibc():
        return False
    try:
        return bool(ctypes.CDLL(None).mallopt(M_ARENA_MAX, count))
    except (OSError, AttributeError):
        return False


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (ValueError, OSError):
        return False
