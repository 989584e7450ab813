"""One daemon thread per process that runs queued compiles.

Started by the first queued compile, never by import or decoration.  Compiles
take Numba's global compiler lock as usual, so a foreground compile waits for a
background one exactly as it would wait for another thread in plain Numba.

A forked child (see ``forksafe``) starts with an empty queue and no worker,
and forgets the compiles its parent had queued: they will never run there.
"""

from __future__ import annotations

import _thread
import queue
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from . import forksafe

_jobs: queue.SimpleQueue[tuple[Callable[..., None], tuple[Any, ...], threading.Event]]
_jobs = queue.SimpleQueue()
_worker_started = False
WORKER_NAME = "smart_jit-background-compiler"
_start_lock = forksafe.lock()
_owners: weakref.WeakSet[Any] = weakref.WeakSet()


def submit(owner: Any, done: threading.Event, job: Callable[..., None], *args: Any) -> None:
    """Queue ``job(*args)``; *done* is set once it has run.

    A forked child calls ``owner._forget_background()``: the jobs its parent
    queued will never run there.
    """
    global _worker_started
    _owners.add(owner)
    _jobs.put((job, args, done))
    if not _worker_started:
        with _start_lock:
            if not _worker_started:
                # threading.Thread.start() waits for the new thread to run
                # (0.4-0.6 ms of GIL hand-offs on the call that queued the
                # compile); the low-level start returns at once (0.08 ms).
                _thread.start_new_thread(_work, ())
                _worker_started = True


def _work() -> None:
    threading.current_thread().name = WORKER_NAME  # a daemon "dummy" thread
    while True:
        job, args, done = _jobs.get()
        time.sleep(0)  # let the thread that queued the job finish its call first
        try:
            job(*args)
        except BaseException:  # the job reports its own failures
            pass
        finally:
            done.set()


# While a compile runs on the worker thread, interpreted calls of the
# function being compiled let it have the GIL at most this often.  Numba's
# compile releases the GIL thousands of times (I/O of its lazy imports, LLVM
# calls) and must win it back each time: a serving thread that never yields
# hands it over only every 5 ms (the interpreter's switch interval), which
# starves the compile; yielding on every call slows quick calls instead.
# Measured (benchmarks/background.py kernel, thread mode, cold): every call
# 1.70 s until compiled with 7,153 quick calls served meanwhile; every 0.5 ms
# 1.90 s and 37,498 calls; every 2 ms 3.11 s and 77,324 calls.  For calls of
# 0.4 ms, every call and every 0.5 ms both take 2.1 s, every 2 ms 2.8 s.
YIELD_INTERVAL = 0.0005
_thread_compiles = 0  # compiles running on the worker thread (0 or 1)
_next_yield = 0.0


@contextmanager
def compiling_on_thread() -> Iterator[None]:
    """Mark a compile that runs on the worker thread itself (not in the
    compile process), so that waiting calls yield to it."""
    global _thread_compiles
    _thread_compiles += 1  # only the worker thread writes it
    try:
        yield
    finally:
        _thread_compiles -= 1


def let_compile_run() -> None:
    """Called by each call served while its compile is pending: yield the GIL
    if a compile runs on the thread and ``YIELD_INTERVAL`` has passed."""
    global _next_yield
    if _thread_compiles:
        now = time.monotonic()
        if now >= _next_yield:
            _next_yield = now + YIELD_INTERVAL
            time.sleep(0)


def wait(pending: list[threading.Event], timeout: float | None) -> bool:
    """Wait until every event in *pending* is set, or *timeout* seconds pass."""
    deadline = None if timeout is None else time.monotonic() + timeout
    for done in pending:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not done.wait(remaining):
            return False
    return True


def _forget_in_child() -> None:
    global _jobs, _worker_started, _thread_compiles
    _jobs = queue.SimpleQueue()
    _worker_started = False
    _thread_compiles = 0
    for owner in list(_owners):
        owner._forget_background()


forksafe.in_child(_forget_in_child)
