"""Who holds a lease: owner strings, built here and nowhere else, and whether an owner was a
process of this machine that has gone.

An owner string is "host:pid/space.start" or "host:pid/space.start:tag": `space` names the
set of processes that can see each other's pids (a hash of the kernel's boot id and the
pid namespace: containers that share a hostname, or a machine rebooted since, differ),
`start` is the process's start time (clock ticks since boot, /proc/PID/stat), so a pid
reused by another process is told apart, and `tag` tells apart the passes of one process.
Where /proc is missing the owner is "host:pid[:tag]", the format of earlier versions,
which is still read.

Feed leases and digest claims name their owner this way. A lease of a process that was
killed on this machine can be taken over at once; one of another machine (which cannot be
asked) only when it expires.
"""

from __future__ import annotations

import functools
import hashlib
import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Owner", "died_here", "lease_owner", "parse_owner", "process_space", "start_time"]

_PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class Owner:
    host: str
    pid: int
    space: str = ""  # empty: not recorded (an old owner, or no /proc)
    start: str = ""
    tag: str = ""


def lease_owner(*, tag: bool = True) -> str:
    """This process as a lease owner; with `tag`, a new one for each call (one pass)."""
    pid = os.getpid()
    space, start = process_space(), start_time(pid)
    ident = f"/{space}.{start}" if space and start else ""
    suffix = f":{uuid.uuid4().hex[:8]}" if tag else ""
    return f"{socket.gethostname()}:{pid}{ident}{suffix}"


def parse_owner(owner: str) -> Owner | None:
    """The parts of an owner string; None for one that is not of this form."""
    host, _, rest = owner.partition(":")
    proc, _, tag = rest.partition(":")
    pid, _, ident = proc.partition("/")
    space, _, start = ident.partition(".")
    # ASCII digits only: str.isdigit() also takes digits of other scripts, which int() reads.
    if not host or not (pid.isascii() and pid.isdigit()) or int(pid) <= 0:
        return None
    return Owner(host, int(pid), space, start, tag)


def died_here(owner: str) -> bool:
    """Whether a lease owner was a process of this machine that is gone.

    Of this machine: the same hostname and, when recorded, the same process space (boot id
    and pid namespace); gone: its pid is not running, or runs a process that started at
    another time than the owner did (the pid was reused)."""
    parsed = parse_owner(owner)
    if parsed is None or parsed.host != socket.gethostname():
        return False  # another machine's lease: it expires by itself
    if parsed.space and parsed.space != process_space():
        return False  # same hostname, another machine or container: not ours to judge
    if not _running(parsed.pid):
        return True
    if parsed.start:
        live = start_time(parsed.pid)
        return live is not None and live != parsed.start
    return False


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


@functools.cache
def process_space() -> str:
    """A short name for the processes whose pids this process sees as its own: the boot id
    and the pid namespace, hashed; empty where /proc does not say."""
    try:
        boot = (_PROC / "sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink(_PROC / "self/ns/pid")
    except OSError:
        return ""
    return hashlib.sha256(f"{boot} {namespace}".encode()).hexdigest()[:8]


def start_time(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, /proc/PID/stat field 22, in hex to
    keep owners within their column), or None where that cannot be read."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces and parentheses:
    # fields are counted from the last ")". Field 3 (the state) comes first.
    fields = stat.rpartition(")")[2].split()
    return f"{int(fields[19]):x}" if len(fields) > 19 and fields[19].isdigit() else None
