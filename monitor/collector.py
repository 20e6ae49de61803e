"""How this program uses Python's cycle collector: less often than its default, and not at
exit. Called by the command line at start and by each parse worker."""

from __future__ import annotations

import atexit
import gc


def collect_less_often() -> None:
    """Look at young objects after every 20,000 allocations instead of 700.

    A pass allocates millions of short-lived objects (parsed entries, rows, keys) that form
    no cycles, and the default cost about 3% of a first pass. The older generations keep
    their default ratios, so a daemon's long-lived cycles are still collected.
    """
    gc.set_threshold(20_000, 10, 10)


def skip_collecting_at_exit() -> None:
    """Freeze every object when the process exits, so that the interpreter's own shutdown
    does not walk them all again (about 75 ms, a tenth of a warm pass). Files, sockets and
    database connections are closed explicitly before then; nothing relies on the collector
    to run a finalizer at exit, which Python does not promise anyway."""
    atexit.unregister(gc.freeze)  # once, however often the CLI runs in one process (tests)
    atexit.register(gc.freeze)
