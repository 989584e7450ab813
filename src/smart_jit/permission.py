"""Which threads may compile a function whose explicit signatures disabled
compilation.

Numba's ``_can_compile`` is False once explicit signatures are given.  A
policy's ``Action.JIT``, or a background compile, still compiles a new
signature: for the duration of that compile, on that thread only, the
dispatcher may compile (``on_request``).  A compile may re-enter (Numba's own
miss path calls back in with literal types for ``numba.literally``); the
permission ends with the outermost one.  A forked child has no compiling
threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from . import forksafe

# (id of a dispatcher, thread) while that thread compiles for it on request.
# Read inline on the miss path: ``granted and (key, get_ident()) in granted``.
granted: set[tuple[int, int]] = set()
forksafe.in_child(granted.clear)


@contextmanager
def on_request(key: int) -> Iterator[None]:
    """Let this thread compile for the dispatcher *key* (its id)."""
    me = (key, threading.get_ident())
    outermost = me not in granted
    granted.add(me)
    try:
        yield
    finally:
        if outermost:
            granted.discard(me)
