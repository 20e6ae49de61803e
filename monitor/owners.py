"""Who holds a lease: owner strings ("host:pid" or "host:pid:tag") and whether an owner was
a process of this machine that has gone.

Feed leases and digest claims name their owner this way. A lease of a process that was
killed on this machine can be taken over at once; one of another machine (which cannot be
asked) only when it expires.
"""

from __future__ import annotations

import os
import socket

__all__ = ["died_here"]


def died_here(owner: str) -> bool:
    """Whether a lease owner was a process of this machine that is gone."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not (pid.isascii() and pid.isdigit()):
        return False  # another machine's lease: it expires by itself
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
