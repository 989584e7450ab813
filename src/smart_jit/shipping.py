"""Compiled code that travels with a pickled dispatcher.

Numba pickles a dispatcher with its signatures but not its compiled code, so
every worker compiles everything again.  Here the pickle also carries each
overload as Numba's on-disk cache would store it, with the target it was
compiled for (``compiled_code``), and the signatures whose compile failed.
The receiving process rebuilds an overload the first time it is needed (a
call, a compile of that signature, a caller being typed), if its Numba,
Python and target match, and never retries a compile known to fail.

Pickling the same dispatcher again (Dask and ``concurrent.futures`` pickle the
function with every task) reuses the blob made the first time (one bytes
object: nothing in it is pickled again), and a process that already has the
dispatcher (Numba's memo of dispatchers by uuid) never opens what arrives
again.  ``SMART_JIT_PICKLE_CODE=0`` ships no code.
"""

from __future__ import annotations

import os
import pickle
import zlib
from typing import Any

SWITCH = "SMART_JIT_PICKLE_CODE"  # "0", "no", "false" or "off": ship no code


def ships_code() -> bool:
    """Whether pickles carry compiled code (read at each pickling)."""
    return os.environ.get(SWITCH, "1").strip().lower() not in ("0", "no", "false", "off")


class Outgoing:
    """What a dispatcher made for its pickles, kept for the next one."""

    __slots__ = ("overloads", "sealed")

    def __init__(self) -> None:
        # argument types -> (the overload, its compressed bytes or None)
        self.overloads: dict[tuple[Any, ...], tuple[Any, bytes | None]] = {}
        self.sealed: tuple[tuple[bytes, ...], bytes] | None = None  # (its parts, the blob)


def pack(dispatcher: Any) -> dict[str, Any]:
    """What to add to *dispatcher*'s pickled state: ``failures`` (argument
    types -> why), and ``code``: one pickled blob of (target, [(argument
    types, bytes)]), made once for the same overloads.  A blob costs the
    sender and a receiver that already has the dispatcher one bytes object
    each, where the parts would be pickled and unpickled with every task
    (measured: 44 us to pickle a dispatcher with one overload, 9 us for
    Numba's; 16 us to unpickle it, 4 us)."""
    failures = [
        (seen.folded_types, seen.failure)
        for seen in list(dispatcher._seen.values())
        if seen.failure is not None and seen.folded_types is not None
    ]
    states: dict[str, Any] = {"failures": failures}
    if not ships_code():
        return states
    from . import compiled_code  # not at import: only pickling needs it

    outgoing = dispatcher._shippable
    made = outgoing.overloads
    kept, code = {}, []  # only current overloads are kept (not those a recompile dropped)
    for argtypes, cres in list(dispatcher.overloads.items()):
        known = made.get(argtypes)
        if known is None or known[0] is not cres:
            data = compiled_code.to_bytes(cres)
            # Compressed once here (0.8 ms for 80 kB, to 36 kB), unpacked once
            # per receiving process: less to send with every task.
            known = (cres, None if data is None else zlib.compress(data, 1))
        kept[argtypes] = known
        if known[1] is not None:
            code.append((argtypes, known[1]))
    outgoing.overloads = kept
    if code:
        parts = tuple(data for _, data in code)
        sealed = outgoing.sealed
        if (
            sealed is None
            or len(sealed[0]) != len(parts)
            or any(a is not b for a, b in zip(sealed[0], parts, strict=True))
        ):
            blob = seal(compiled_code.target(dispatcher.targetctx), code)
            sealed = outgoing.sealed = (parts, blob)
        states["code"] = sealed[1]
    return states


def seal(target: Any, overloads: list[tuple[Any, bytes]]) -> bytes:
    """The ``code`` of a pickled state: (target, [(argument types, bytes)])."""
    from numba.core import serialize

    return serialize.dumps((target, overloads))  # type: ignore[no-any-return]


def unseal(blob: bytes) -> tuple[Any, list[tuple[Any, bytes]]]:
    """What ``seal`` put in *blob* (opened only by a process that needs it)."""
    return pickle.loads(blob)  # type: ignore[no-any-return]


class Arrived:
    """The compiled overloads and failed signatures a dispatcher arrived
    with, kept as bytes until needed."""

    __slots__ = ("code", "failures", "incompatible")

    def __init__(self) -> None:
        self.code: dict[tuple[Any, ...], bytes] = {}
        self.failures: dict[tuple[Any, ...], str] = {}
        self.incompatible: tuple[Any, ...] | None = None  # the target of code not used

    def add(self, targetctx: Any, code: Any, failures: Any) -> None:
        """Keep what a pickle brought, unless something is known already."""
        for argtypes, why in failures or ():
            self.failures.setdefault(tuple(argtypes), why)
        if not code:
            return
        from . import compiled_code

        where, overloads = unseal(code)
        if where != compiled_code.target(targetctx):
            self.incompatible = where  # compile here, as Numba would
            return
        for argtypes, data in overloads:
            self.code.setdefault(tuple(argtypes), data)

    def take(self, argtypes: tuple[Any, ...]) -> bytes | None:
        """The bytes of the overload for *argtypes*, handed out once."""
        data = self.code.pop(argtypes, None)
        return None if data is None else zlib.decompress(data)
