"""A smart dispatcher's pickled state: Numba's, plus the policy and options,
the failed signatures and the compiled code (``shipping``).

Numba reduces a dispatcher to its states and rebuilds it from them, or finds
it in its memo of dispatchers by uuid.  Here every state but the uuid is
pickled once more, inside (``packed``): a process that already has the
dispatcher unpickles nothing else (not the function, the policy, the code),
which matters because Dask and ``concurrent.futures`` send the function
with every task.
"""

from __future__ import annotations

import pickle
import threading
from typing import Any

from numba.core import serialize

from . import shipping
from .records import Records

_packing = threading.local()  # the dispatchers this thread is pickling (by id)


def unpack(memo: Any, uuid: str, packed: bytes | None, states: dict[str, Any]) -> Any:
    """(the dispatcher *uuid* if *memo* has it, else None; its states).  The
    states are unpacked from *packed* if given: the function may rebuild its
    own dispatcher inside (recursion), found in *memo* afterwards."""
    found = memo.get(uuid)
    if found is None and packed is not None:
        states = pickle.loads(packed)
        found = memo.get(uuid)
    return found, states


def reduce(key: int, reduce_class: Any, states: dict[str, Any]) -> Any:
    """``__reduce__`` of the dispatcher *key* (its id) with *states*.

    A function that refers to itself (recursion, a closure cell) meets its
    dispatcher again inside the inner pickle: there it is reduced as Numba
    does, where the inner pickler's memo of the function ends the recursion."""
    in_progress = _packing.__dict__.setdefault("ids", set())
    if key in in_progress:
        return serialize.custom_reduce(reduce_class, states)
    in_progress.add(key)
    try:
        uuid = states.pop("uuid")
        packed = serialize.dumps(states)
    finally:
        in_progress.discard(key)
    return serialize.custom_reduce(reduce_class, {"uuid": uuid, "packed": packed})


def states(
    dispatcher: Any,
    numba_states: dict[str, Any],
    declared: frozenset[tuple[Any, ...]] | None,
    cached: bool,
    records: Records,
    outgoing: shipping.Outgoing,
) -> dict[str, Any]:
    """Numba's states of *dispatcher*, with the signatures given ahead of
    time (*declared*), its options, its failures and its code."""
    if declared is not None:
        overloads = dispatcher.overloads
        numba_states["sigs"] = [c.signature for k, c in overloads.items() if k in declared]
    numba_states.update(
        use_jit=dispatcher.use_jit,
        warn_on_fallback=dispatcher.warn_on_fallback,
        on_compile_error=dispatcher.on_compile_error,
        background=dispatcher.background,
        cache=cached,
        failures=records.failures(),
        function=shipping.function_digest(dispatcher.py_func),
    )
    code = outgoing.code(dispatcher.overloads, records.version, dispatcher.targetctx)
    if code is not None:
        numba_states["code"] = code
    return numba_states


def options(states: dict[str, Any]) -> dict[str, Any]:
    """The dispatcher's own options among *states*."""
    names = ("use_jit", "warn_on_fallback", "on_compile_error", "background")
    return {name: states[name] for name in names if name in states}


def arrived(states: dict[str, Any]) -> tuple[Any, Any, bool]:
    """(code, failures, whether the sender's function is the one that
    arrived) for ``shipping.Incoming.add``."""
    function = states.get("function")
    same = function is not None and function == shipping.function_digest(states["py_func"])
    return states.get("code"), states.get("failures", ()), same


def in_its_file(py_func: Any) -> bool:
    """Whether a function that arrived in a pickle is the one its file on
    disk defines now (else its disk cache would mix two codes, as a plain
    rebuilt Numba dispatcher, which has no cache, never does)."""
    from . import compiled_code  # not at import: only pickles bring functions

    return compiled_code.file_defines(py_func)
