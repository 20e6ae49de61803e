"""The systemd notification protocol (sd_notify), for `monitor run` under Type=notify.

A datagram of `KEY=value` lines on the AF_UNIX socket named by $NOTIFY_SOCKET: READY=1
once the daemon's first poll is scheduled, WATCHDOG=1 while it is healthy, STOPPING=1 as it
shuts down. Without $NOTIFY_SOCKET (not started by systemd) every call does nothing. The
protocol is a dozen lines; the libsystemd binding would be a dependency for them.
"""

from __future__ import annotations

import os
import socket


def notify(message: str) -> bool:
    """Send `message` to the service manager; whether there was one to send it to."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address or address[0] not in "/@":
        return False
    if address[0] == "@":  # Linux's abstract namespace: a leading NUL byte
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(message.encode(), address)
    except OSError:
        return False  # the manager has gone; the daemon goes on without it
    return True


def watchdog_seconds() -> float | None:
    """How often the manager wants WATCHDOG=1 (half its timeout), or None when it does not:
    no WatchdogSec, or $WATCHDOG_PID names another process."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000
