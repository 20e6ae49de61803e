"""Keeps httpx from importing its command-line client, which we never run.

httpx imports it (click, Rich, pygments) on import whenever those are installed, as ours
are: some 6 MiB and 20 ms of every pass. A None entry in `sys.modules` makes that import
raise ImportError, which httpx expects and handles. Imported by `monitor.fetch` before
anything that imports httpx.
"""

import sys

sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # None blocks an import
