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
from collections.abc import Callable
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


def wait(pending: list[threading.Event], timeout: float | None) -> bool:
    """Wait until every event in *pending* is set, or *timeout* seconds pass."""
    deadline = None if timeout is None else time.monotonic() + timeout
    for done in pending:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not done.wait(remaining):
            return False
    return True


def _forget_in_child() -> None:
    global _jobs, _worker_started
    _jobs = queue.SimpleQueue()
    _worker_started = False
    for owner in list(_owners):
        owner._forget_background()


forksafe.in_child(_forget_in_child)
