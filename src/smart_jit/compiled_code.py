"""Compiled overloads as bytes, and back: what Numba's on-disk cache stores.

Two things move compiled code between processes: the compile process sends
its results to the serving process, and a pickled dispatcher carries its
overloads to workers.  Both use the form Numba's cache uses
(``CompileResult._reduce()``, pickled), its rules for what may be stored, and
its rules for when a stored result may run elsewhere: the same Numba version
and Python version, and the same target (LLVM triple, CPU name and CPU
features: ``codegen.magic_tuple()``, part of every cache index key).
"""

from __future__ import annotations

import functools
import hashlib
import pickle
import sys
import types
import weakref
from collections.abc import Callable
from typing import Any


def why_not_portable(cres: Any) -> str | None:
    """Why Numba's cache would not store *cres* (None if it would):
    ``CompileResultCacheImpl.check_cachable``'s rules, without its warning."""
    if any(not lifted.can_cache for lifted in cres.lifted):
        return "it uses lifted code"
    if cres.library.has_dynamic_globals:
        return "it uses dynamic globals (such as ctypes pointers and large global arrays)"
    if _links_at_run_time(cres.library):
        return (
            "it calls itself through another function, a call Numba links at run time "
            "in the process that compiled it (its disk cache crashes on it: numba#6061)"
        )
    return None


def _links_at_run_time(library: Any) -> bool:
    """Whether *library* refers to a function by a symbol that Numba's
    runtime linker fills in where it compiled (mutual recursion); rebuilt
    elsewhere, LLVM aborts the process: "Symbol not found"."""
    from numba.core.codegen import RuntimeLinker

    module = getattr(library, "_final_module", None)
    if module is None:
        return False
    return any(gv.name.startswith(RuntimeLinker.PREFIX) for gv in module.global_variables)


def to_bytes(cres: Any) -> bytes | None:
    """*cres* as bytes, or None if it cannot travel."""
    from numba.core import serialize

    if why_not_portable(cres) is not None:
        return None
    try:
        return serialize.dumps(cres._reduce())  # type: ignore[no-any-return]
    except Exception:  # a library that no longer has its object code
        return None


def from_bytes(targetctx: Any, data: bytes) -> Any:
    """The ``CompileResult`` that :func:`to_bytes` gave, rebuilt here."""
    from numba.core.compiler import CompileResult
    from numba.core.compiler_lock import global_compiler_lock

    reduced = pickle.loads(data)
    with global_compiler_lock:
        # Without it, a fresh process dies with "Symbol not found: NRT_Free".
        # Numba's cache does the same before every load; cheap once done.
        targetctx.refresh()
        cres = CompileResult._rebuild(targetctx, *reduced)
    keep_object_code(cres, reduced)
    return cres


def install_once(
    argtypes: tuple[Any, ...],
    overloads: dict[tuple[Any, ...], Any],
    make: Callable[[], Any],
    install: Callable[[Any], Any],
) -> Any:
    """The overload for *argtypes*: one there already, else the result of
    *make* (None: nothing to install) handed to *install*.  Under Numba's
    compiler lock, so one thread makes it and the others find it installed."""
    from numba.core.compiler_lock import global_compiler_lock

    with global_compiler_lock:
        existing = overloads.get(argtypes)
        if existing is not None:
            return existing
        cres = make()
        return None if cres is None else install(cres)


def install_foreign(
    cres: Any,
    overloads: dict[tuple[Any, ...], Any],
    targetctx: Any,
    add_overload: Callable[[Any], None],
    save: Callable[[tuple[Any, ...], Any], None] | None = None,
) -> Any:
    """Add *cres*, compiled elsewhere (disk cache, compile process, a pickle),
    with *add_overload* as Numba adds a disk-cache hit, and *save* it; an
    overload already there wins."""
    argtypes = tuple(cres.signature.args)

    def make() -> Any:
        if not cres.objectmode:
            targetctx.insert_user_function(cres.entry_point, cres.fndesc, [cres.library])
        add_overload(cres)
        if save is not None:
            save(argtypes, cres)
        return cres

    return install_once(argtypes, overloads, make, lambda installed: installed)


def keep_object_code(cres: Any, reduced: tuple[Any, ...]) -> None:
    """Put back the object code a rebuild handed to LLVM.

    A fresh compile keeps its library's object code, so that it can be
    serialized (``cache=True``); a rebuild gives it to LLVM, which drops it.
    With it back, a rebuilt result can be cached and shipped again, like one
    compiled here.  *reduced* is what ``CompileResult._reduce()`` returned.
    """
    _name, kind, data = reduced[0]
    if kind == "object":
        object_code, _bitcode = data
        cres.library._compiled_object = object_code


def target(targetctx: Any) -> tuple[Any, ...]:
    """Where compiled code may run: Numba's and Python's versions and the
    codegen's ``magic_tuple()``.  Code may only run where this is equal."""
    return _target_of(targetctx.codegen())


@functools.cache  # a codegen per target, alive for the process
def _target_of(codegen: Any) -> tuple[Any, ...]:
    import numba

    # magic_tuple() asks LLVM for the host CPU's name and features: 90 us,
    # on every pickling of every dispatcher otherwise.
    return (numba.__version__, sys.version_info[:2], codegen.magic_tuple())


_digests: weakref.WeakKeyDictionary[types.CodeType, str] = weakref.WeakKeyDictionary()


def code_digest(code: types.CodeType) -> str:
    """A digest of *code*: its bytecode, names, constants and nested code,
    not where its file is nor its line numbers."""
    digest = _digests.get(code)
    if digest is None:
        hasher = hashlib.sha256()
        _hash_code(hasher, code)
        digest = _digests[code] = hasher.hexdigest()
    return digest


def _hash_code(hasher: Any, code: types.CodeType) -> None:
    hasher.update(code.co_code)
    for part in (code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars):
        hasher.update(repr(part).encode())
    hasher.update(repr((code.co_argcount, code.co_kwonlyargcount, code.co_flags)).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _hash_code(hasher, const)
        elif isinstance(const, frozenset):  # its order follows string hashing
            hasher.update(repr(sorted(map(repr, const))).encode())
        else:
            hasher.update(repr(const).encode())


def file_defines(func: Any) -> bool:
    """Whether *func*'s source file, as it is now, defines *func*'s code.

    Numba's disk cache keys what it stores by the file's stamp: code that
    arrived by value in a pickle may be cached (and loaded) under that stamp
    only if the file still holds that code, or another process whose file
    says otherwise would run it."""
    code = func.__code__
    try:
        with open(code.co_filename, "rb") as src:
            module = compile(src.read(), code.co_filename, "exec", dont_inherit=True)
    except (OSError, SyntaxError, ValueError):
        return False
    wanted = code_digest(code)
    pending = [module]
    while pending:
        each = pending.pop()
        if each.co_name == code.co_name and each.co_firstlineno == code.co_firstlineno:
            if code_digest(each) == wanted:
                return True
        pending.extend(c for c in each.co_consts if isinstance(c, types.CodeType))
    return False
