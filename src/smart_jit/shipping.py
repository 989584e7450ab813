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

Processes of this machine need not receive the blob with every task.
``multiprocessing``'s own pickler (``ForkingPickler``: what ``Pool``,
``ProcessPoolExecutor`` and ``multiprocessing.Queue`` use, whose receivers
are this machine's processes) pickles a dispatcher with a reference instead:
the blob is written once to a file in a private directory of this process
(removed when it exits), and the pickle carries its path and SHA-256.  A
receiver without the dispatcher reads it once; a file that is gone or
differs is not used (the receiver compiles, as Numba would).  Any other
pickler (``pickle``, cloudpickle, Dask) carries the blob itself.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import tempfile
import threading
import zlib
from collections.abc import Callable
from typing import Any

from . import forksafe

SWITCH = "SMART_JIT_PICKLE_CODE"  # "0", "no", "false" or "off": ship no code


def ships_code() -> bool:
    """Whether pickles carry compiled code (read at each pickling)."""
    return os.environ.get(SWITCH, "1").strip().lower() not in ("0", "no", "false", "off")


class Outgoing:
    """What a dispatcher made for its pickles, kept for the next one."""

    __slots__ = ("overloads", "sealed", "published", "version")

    def __init__(self) -> None:
        # argument types -> (the overload, its compressed bytes or None)
        self.overloads: dict[tuple[Any, ...], tuple[Any, bytes | None]] = {}
        self.sealed: tuple[tuple[bytes, ...], bytes] | None = None  # (its parts, the blob)
        self.published: tuple[bytes, int, tuple[str, str, str]] | None = None  # (blob, pid, ref)
        self.version = -1  # the version of the overloads these were made for

    def code(self, overloads: dict[tuple[Any, ...], Any], version: int, targetctx: Any) -> Any:
        """The ``code`` of a pickled state, or None: one pickled blob of
        (target, [(argument types, bytes)]) for the current *overloads*
        (whose *version* changes whenever one is added or dropped), made
        once for the same overloads; for ``multiprocessing``'s pickler, a
        reference to it.  A blob costs the sender and a receiver that
        already has the dispatcher one bytes object each, where the parts
        would be pickled and unpickled with every task."""
        if not ships_code():
            return None
        if self.version != version:
            self._seal(overloads, targetctx)
            self.version = version
        if self.sealed is None:
            return None
        blob = self.sealed[1]
        if getattr(_pickling_for_local, "on", False):  # for a process of this machine
            try:
                return _reference(self, blob)
            except OSError:  # no room or no right to write: the code itself, then
                pass
        return blob

    def _seal(self, overloads: dict[tuple[Any, ...], Any], targetctx: Any) -> None:
        """Make the blob of the current overloads (each overload's bytes
        made once; the blob made again only when they change)."""
        from . import compiled_code  # not at import: only pickling needs it

        made = self.overloads
        kept, code = {}, []  # only current overloads are kept (not those a recompile dropped)
        for argtypes, cres in list(overloads.items()):
            known = made.get(argtypes)
            if known is None or known[0] is not cres:
                data = compiled_code.to_bytes(cres)
                # Compressed once here, unpacked once per receiving process:
                # less to send with every task.
                known = (cres, None if data is None else zlib.compress(data, 1))
            kept[argtypes] = known
            if known[1] is not None:
                code.append((argtypes, known[1]))
        self.overloads = kept
        if not code:
            self.sealed = None
            return
        parts = tuple(data for _, data in code)
        sealed = self.sealed
        if (
            sealed is None
            or len(sealed[0]) != len(parts)
            or any(a is not b for a, b in zip(sealed[0], parts, strict=True))
        ):
            self.sealed = (parts, seal(compiled_code.target(targetctx), code))


# -- the same machine: the blob by reference ---------------------------------

_pickling_for_local = threading.local()  # set while ForkingPickler reduces one of ours
_published_lock = forksafe.lock()
_directory: list[str] = []  # this process's directory of published blobs, once made
_users: dict[str, int] = {}  # published file -> how many dispatchers' current blob it is
serving: list[type] = []  # the classes ForkingPickler sends by reference


def serve_local_processes(cls: type) -> None:
    """Have ``multiprocessing``'s pickler send *cls*'s code by reference.
    Called at a first compile, not at import (importing ``multiprocessing``
    has a cost, and a dispatcher without code has nothing to send)."""
    if cls in serving:
        return
    from multiprocessing.reduction import ForkingPickler

    ForkingPickler.register(cls, _reduce_for_local)
    serving.append(cls)


def _reduce_for_local(dispatcher: Any) -> Any:
    _pickling_for_local.on = True
    try:
        return dispatcher.__reduce__()
    finally:
        _pickling_for_local.on = False


def _reference(outgoing: Outgoing, blob: bytes) -> tuple[str, str, str]:
    """("file", path, SHA-256) of *blob*, written once by this process
    (OSError if it cannot be)."""
    published = outgoing.published
    pid = os.getpid()
    if (
        published is not None
        and published[0] is blob
        and published[1] == pid
        and os.path.exists(published[2][1])  # (a cleaner may have removed it)
    ):
        return published[2]
    digest = hashlib.sha256(blob).hexdigest()
    with _published_lock:
        if not _directory:
            from multiprocessing.util import Finalize

            _directory.append(tempfile.mkdtemp(prefix="smart_jit-code-"))  # mode 0700
            # Removed at this process's exit, after its children were joined
            # (also in a pool's worker, which skips atexit); not by a forked
            # child: Finalize checks the pid.
            Finalize(None, shutil.rmtree, (_directory[0], True), exitpriority=-1)
        path = os.path.join(_directory[0], digest)
        if not os.path.exists(path):
            with tempfile.NamedTemporaryFile(dir=_directory[0], delete=False) as out:
                out.write(blob)
            os.replace(out.name, path)  # whole or absent for a reader
        _users[path] = _users.get(path, 0) + 1
        if published is not None and published[1] == pid:
            _unpublish(published[2][1])  # its overloads changed: the old blob is stale
    ref = ("file", path, digest)
    outgoing.published = (blob, pid, ref)
    return ref


def _unpublish(path: str) -> None:
    """One user fewer for the file at *path*; removed when it has none.  A
    receiver that reads it later finds it gone and compiles, as Numba would."""
    left = _users.get(path, 0) - 1
    if left > 0:
        _users[path] = left
        return
    _users.pop(path, None)
    try:
        os.unlink(path)
    except OSError:
        pass


def _read_reference(ref: tuple[str, str, str]) -> bytes | None:
    """The blob a reference names, if it is there and is that blob."""
    _kind, path, digest = ref
    try:
        with open(path, "rb") as src:
            blob = src.read()
    except OSError:
        return None
    return blob if hashlib.sha256(blob).hexdigest() == digest else None


forksafe.in_child(_directory.clear)  # a child publishes into a directory of its own
forksafe.in_child(_users.clear)


def seal(target: Any, overloads: list[tuple[Any, bytes]]) -> bytes:
    """The ``code`` of a pickled state: (target, [(argument types, bytes)])."""
    from numba.core import serialize

    return serialize.dumps((target, overloads))  # type: ignore[no-any-return]


def unseal(blob: bytes) -> tuple[Any, list[tuple[Any, bytes]]]:
    """What ``seal`` put in *blob* (opened only by a process that needs it)."""
    return pickle.loads(blob)  # type: ignore[no-any-return]


class Incoming:
    """The compiled overloads and failed signatures a dispatcher arrived
    with, kept as bytes until needed."""

    __slots__ = ("code", "failures", "incompatible")

    def __init__(self) -> None:
        self.code: dict[tuple[Any, ...], bytes] = {}
        self.failures: dict[tuple[Any, ...], str] = {}
        self.incompatible: tuple[Any, ...] | None = None  # the target of code not used

    def add(self, targetctx: Any, code: Any, failures: Any, same_function: bool) -> None:
        """Keep what a pickle brought, unless something is known already.

        Nothing is kept unless the sender's function is this one
        (*same_function*: the same code, as ``function_digest`` says): a
        receiver that imported a module of the same name with other code
        compiles its own (and never writes the sender's code into its disk
        cache).  With ``SMART_JIT_PICKLE_CODE=0`` a receiver uses no code
        that arrives."""
        if not same_function:
            return
        for argtypes, why in failures or ():
            self.failures.setdefault(tuple(argtypes), why)
        if not ships_code():
            return
        if type(code) is tuple:  # by reference, from this machine
            code = _read_reference(code)
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

    def install(
        self,
        argtypes: tuple[Any, ...],
        overloads: dict[tuple[Any, ...], Any],
        targetctx: Any,
        install: Callable[[Any], Any],
    ) -> Any:
        """The overload for *argtypes*: one there already, else one rebuilt
        from the code that arrived (handed out once) and handed to *install*,
        else None (none arrived, or it cannot be rebuilt here: compile as
        Numba would).  One thread rebuilds; the others find it installed."""
        from . import compiled_code  # not at import: only pickles bring code

        def make() -> Any:
            data = self.take(argtypes)
            if data is None:
                return None
            try:
                return compiled_code.from_bytes(targetctx, data)
            except Exception:
                return None

        return compiled_code.install_once(argtypes, overloads, make, install)


def function_digest(func: Any) -> str:
    """A digest of what makes *func*'s compiled code (``code_digest``) and
    its defaults.  Equal in the sender and the receiver when both have the
    same function."""
    from .compiled_code import code_digest

    digest = code_digest(func.__code__)
    if not func.__defaults__:
        return digest
    return hashlib.sha256(f"{digest} {func.__defaults__!r}".encode()).hexdigest()
