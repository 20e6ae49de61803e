"""Worker processes for the pass's CPU-bound work (parsing), as a `concurrent.futures.Executor`.

Each worker is a fresh interpreter joined to the pass's process by a socket pair: a call
is sent to it as a pickled (function, arguments), and its result or exception comes back.
This is what concurrent.futures' process pool does, without what multiprocessing adds on
POSIX: a fork server and a resource tracker, two more interpreters (some 27 MiB) that lived
as long as the daemon, and a watchdog thread in every worker for the case the pass's
process is killed. Here a worker needs none: when the pass's process is gone, so is its end
of the socket, and the worker's next read ends it.

A worker that dies during a call (a crash in a C parser, the OOM killer) fails that call
with `BrokenProcessPool`, as concurrent.futures' pool does, and the next call in its place
starts a new worker. Workers start on first use, one per thread of the executor.
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection
from typing import Any, ParamSpec, TypeVar

__all__ = ["WorkerPool"]

P = ParamSpec("P")
T = TypeVar("T")

# Run by each worker's interpreter: the pass's import path first (so it imports the same
# `monitor` the pass runs, installed or not), then the loop below.
_BOOT = "import sys; sys.path[:] = sys.argv[2:]; from monitor.workers import serve; serve()"


class WorkerPool(Executor):
    """`workers` worker processes; each runs `initializer(*initargs)` once when it starts."""

    def __init__(
        self,
        workers: int,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
    ) -> None:
        self._threads = ThreadPoolExecutor(workers, thread_name_prefix="worker")
        self._start = (initializer, initargs)
        self._local = threading.local()  # each thread's own worker
        self._lock = threading.Lock()
        self._running: set[_Worker] = set()

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        return self._threads.submit(self._call, fn, args, kwargs)

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        worker: _Worker | None = getattr(self._local, "worker", None)
        if worker is None or not worker.alive:
            started = self._local.worker = _Worker(*self._start)
            with self._lock:
                if worker is not None:
                    self._running.discard(worker)  # it died: replaced here
                self._running.add(started)
            worker = started
        return worker.call(fn, args, kwargs)  # type: ignore[no-any-return]

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking calls; with `wait`, let the calls under way finish first. Without it,
        the workers are killed (their results would have nowhere to go)."""
        self._threads.shutdown(wait, cancel_futures=cancel_futures)
        with self._lock:
            workers, self._running = self._running, set()
        for worker in workers:
            worker.stop(kill=not wait)


class _Worker:
    """One worker process and the pass's end of its socket."""

    def __init__(self, initializer: Callable[..., object] | None, initargs: tuple[Any, ...]):
        ours, theirs = socket.socketpair()
        with theirs:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(theirs.fileno()), *sys.path],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        self.pid = self._proc.pid
        self.alive = True
        self._conn = Connection(ours.detach())
        self._send((initializer, initargs))

    def call(self, fn: Callable[..., object], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        self._send((fn, args, kwargs))
        try:
            ok, value = self._conn.recv()
        except (EOFError, OSError) as exc:
            raise self._died() from exc
        if not ok:
            raise value
        return value

    def _send(self, message: object) -> None:
        try:
            self._conn.send(message)
        except OSError as exc:  # the worker is gone (a broken pipe)
            raise self._died() from exc

    def _died(self) -> BrokenProcessPool:
        self.stop(kill=True)
        status = self._proc.returncode
        how = f"was killed by signal {-status}" if status < 0 else f"exited with status {status}"
        return BrokenProcessPool(f"worker process {self.pid} {how}")

    def stop(self, *, kill: bool) -> None:
        """Close our end (an idle worker then exits) and reap the process."""
        self.alive = False
        self._conn.close()
        if kill:
            self._proc.kill()
        self._proc.wait()


def serve() -> None:
    """A worker's loop: run the initializer sent first, then each call, until the pass's end
    of the socket closes.

    Ctrl-C, a hangup or a service manager's SIGTERM reach the whole process group; they are
    for the pass's process, which finishes or abandons its work and then closes the sockets.
    A worker killed by them would fail the feed it was parsing in a pass that is stopping.
    """
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    conn = Connection(int(sys.argv[1]))
    try:
        initializer, initargs = conn.recv()
        if initializer is not None:
            initializer(*initargs)
        while True:
            fn, args, kwargs = conn.recv()
            conn.send_bytes(_reply(fn, args, kwargs))
    except (EOFError, OSError):
        pass  # the pass's process closed its end, or is gone


def _reply(fn: Callable[..., object], args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
    """The pickled (True, result) or (False, exception) of one call."""
    try:
        reply: tuple[bool, object] = (True, fn(*args, **kwargs))
    except Exception as exc:
        exc.add_note(f"(in worker process {os.getpid()})\n" + traceback.format_exc())
        reply = (False, exc)
    try:
        return pickle.dumps(reply)
    except Exception:  # a result or exception pickle cannot carry
        text = traceback.format_exc()
        return pickle.dumps((False, RuntimeError(f"a worker's reply cannot be sent:\n{text}")))
