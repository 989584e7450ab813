"""Numba's on-disk cache (``cache=True``) as smart_jit uses it.

Two additions to Numba's ``FunctionCache``: an unreadable or unwritable cache
is a warning and a compile in memory, not a failed call; and a look-up that
found nothing can be remembered for as long as the disk could not answer
differently (a look-up reads the index file).

A dispatcher's ``disk`` is ``NO_DISK`` (false, its stamp None: nothing to
look at again) until ``cache=True`` makes it a ``DiskLookup``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from typing import Any

from numba.core.caching import CompileResultCacheImpl, FunctionCache
from numba.core.errors import NumbaWarning

from .argtypes import is_immutable


class _ResultsThatTravel(CompileResultCacheImpl):  # type: ignore[misc]
    """Numba's way of storing compile results, except that a result loaded
    from disk keeps its object code, so that it can travel in a pickle."""

    def rebuild(self, target_context: Any, payload: Any) -> Any:
        from . import compiled_code

        cres = super().rebuild(target_context, payload)
        compiled_code.keep_object_code(cres, payload)
        return cres


class TolerantCache(FunctionCache):  # type: ignore[misc]
    """Numba's on-disk cache, where an unreadable or unwritable file is a
    cache miss with a warning, not a failed call."""

    _impl_class = _ResultsThatTravel

    def load_overload(self, sig: Any, target_context: Any) -> Any:
        try:
            return super().load_overload(sig, target_context)
        except Exception as exc:
            warn_cache(self._name, "could not be read", exc)
            return None

    def save_overload(self, sig: Any, data: Any) -> None:
        try:
            super().save_overload(sig, data)
        except Exception as exc:
            warn_cache(self._name, "could not be written", exc)

    @property
    def index_path(self) -> str:
        """The index file Numba reads on every look-up."""
        return self._cache_file._index_path  # type: ignore[no-any-return]


class _NoDisk:
    """The disk of a dispatcher without ``cache=True``."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def stamp(self) -> None:
        return None

    def load(self, *_: Any) -> None:
        return None


NO_DISK: Any = _NoDisk()


def warn_cache(name: str, what: str, exc: Exception) -> None:
    warnings.warn(
        f"{name}: on-disk cache {what} ({type(exc).__name__}: {exc}); compiling in memory instead",
        NumbaWarning,
        stacklevel=2,
    )


class DiskLookup:
    """The disk of a dispatcher with ``cache=True``: ``stamp()`` is equal to
    an earlier stamp only while a look-up in the disk cache would still find
    nothing.

    Numba finds an overload by the index file, which it only ever replaces
    whole (so its inode, size and mtime change), and, for a closure, by a hash
    of the pickled cell contents.  Cells that hold immutable values only
    (numbers, strings, bytes, None, tuples of them) pickle the same while they
    hold the same objects, compared by identity.  A closure with any other
    cell (an array, a list, a function) gets a stamp equal to nothing, and is
    looked up on disk every time, as in Numba.
    """

    __slots__ = ("_cache", "_hits", "_index_path", "_closure")

    def __init__(self, py_func: Callable[..., Any], cache: TolerantCache, hits: Any) -> None:
        self._cache = cache
        self._hits = hits  # the dispatcher's stats.cache_hits, a Counter
        self._index_path = cache.index_path
        self._closure = py_func.__closure__ or ()

    def load(
        self,
        argtypes: tuple[Any, ...],
        overloads: dict[tuple[Any, ...], Any],
        targetctx: Any,
        install: Callable[[Any], Any],
    ) -> Any:
        """The overload for *argtypes*: one there already, else one loaded
        from disk and handed to *install* (as Numba installs a disk-cache
        hit), else None."""
        from . import compiled_code

        def make() -> Any:
            cres = self._cache.load_overload(argtypes, targetctx)
            if cres is not None:
                self._hits[argtypes] += 1
            return cres

        return compiled_code.install_once(argtypes, overloads, make, install)

    def stamp(self) -> Any:
        try:
            st = os.stat(self._index_path)
        except OSError:
            index: Any = 0
        else:
            index = (st.st_ino, st.st_size, st.st_mtime_ns)
        if not self._closure:
            return index
        try:
            cells = tuple(cell.cell_contents for cell in self._closure)
        except ValueError:  # an empty cell
            return _Unique()
        if not is_immutable(cells):
            return _Unique()
        return (index, _SameObjects(cells))


class _Unique:
    """Equal to nothing, itself included."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = None  # type: ignore[assignment]


class _SameObjects:
    """Equal to another holding the very same objects."""

    __slots__ = ("objects",)

    def __init__(self, objects: tuple[Any, ...]) -> None:
        self.objects = objects

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _SameObjects)
            and len(other.objects) == len(self.objects)
            and all(a is b for a, b in zip(self.objects, other.objects, strict=True))
        )

    __hash__ = None  # type: ignore[assignment]
