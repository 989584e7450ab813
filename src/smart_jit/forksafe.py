"""The package's locks, and what a forked child must reset.

``os.fork`` copies every lock in the state it is in.  A lock that another
thread of the parent held stays held in the child, which has no such thread,
and the child waits for it forever.  So every lock of the package is made here,
listed in the order in which code may nest them.  Before a fork the forking
thread takes them all, in that order; after the fork both processes release
them.  The child therefore starts with each lock free and with the state each
one guards consistent.  Numba's global compiler lock comes first, because our
code takes its own locks while holding it.  llvmlite's lock around every LLVM
call comes last: LLVM objects are also freed outside the compiler lock (when
the garbage collector drops a compiled library, on any thread), and a child
that inherited it held would hang at its first compile.  A thread holding it
is inside an LLVM call and waits for none of the others.

State that must not survive into a child (a background worker that does not
exist there, its queue) registers a reset with :func:`in_child`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from numba.core.compiler_lock import global_compiler_lock


def _llvm_lock_or_none() -> Any:
    """The re-entrant lock llvmlite takes around each call into LLVM
    (``llvmlite.binding.ffi.lib._lock._lock`` in llvmlite 0.42 to 0.50),
    without the callbacks its context manager runs."""
    from llvmlite.binding import ffi

    return getattr(getattr(ffi.lib, "_lock", None), "_lock", None)


_locks: list[threading.RLock] = []  # in the order they are taken
_llvm_lock = _llvm_lock_or_none()
_child_resets: list[Callable[[], None]] = []


def lock() -> threading.RLock:
    """A new re-entrant lock that is free in every forked child.

    Locks are taken before a fork in the order they were made, so a module
    that nests lock B inside lock A must make A first.
    """
    new = threading.RLock()
    _locks.append(new)
    return new


def in_child(reset: Callable[[], None]) -> None:
    """Call *reset()* in a forked child, once every lock is free again."""
    _child_resets.append(reset)


def _before_fork() -> None:
    global_compiler_lock.acquire()
    for each in _locks:
        each.acquire()
    if _llvm_lock is not None:
        _llvm_lock.acquire()


def _release_all() -> None:
    if _llvm_lock is not None:
        _llvm_lock.release()
    for each in reversed(_locks):
        each.release()
    global_compiler_lock.release()


def _after_fork_in_child() -> None:
    _release_all()
    for reset in list(_child_resets):
        reset()


os.register_at_fork(
    before=_before_fork,
    after_in_parent=_release_all,
    after_in_child=_after_fork_in_child,
)
