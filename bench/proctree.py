"""Memory of a process's descendants, as the benchmarks count it (Linux /proc)."""

from __future__ import annotations

import os
from collections.abc import Collection


def tree_memory_mib(root: int, skip: Collection[int] = ()) -> tuple[float, float]:
    """(summed RSS, summed PSS) of every process under `root` (not `root` itself), leaving out
    the processes in `skip` and theirs (a web server the bench started). RSS counts a page
    shared by several processes (a fork's, a library's) once per process; PSS splits it
    among them."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            parents[int(entry)] = int(stat[stat.rindex(b")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    rss = pss = 0
    todo = [root]
    while todo:
        pid = todo.pop()
        for child, parent in parents.items():
            if parent != pid or child in skip:
                continue
            todo.append(child)
            try:
                with open(f"/proc/{child}/smaps_rollup", "rb") as f:
                    for line in f:
                        if line.startswith(b"Rss:"):
                            rss += int(line.split()[1])
                        elif line.startswith(b"Pss:"):
                            pss += int(line.split()[1])
            except (OSError, ValueError):
                continue
    return rss / 1024, pss / 1024
