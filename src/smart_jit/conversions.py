"""Which declared signature Numba's C dispatcher converts a call's types to.

With explicit signatures and compilation disabled, Numba's C dispatcher runs
the one declared signature its type manager converts the argument types to
(unsafe conversions allowed), after installing conversions Numba has not
registered yet (``_search_new_conversions``); failing that, the first
object-mode overload ("fallbackdef") unless the function is ``nopython``.
``select`` gives that answer for types, without running anything; the
caller decides what to do with it (put it in the C table).

Only the signatures given ahead of time are candidates, so the answer never
depends on which overloads a policy (or another process, through the disk
cache) compiled since.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, NoReturn

# Numba's type manager found more than one equally good signature.
AMBIGUOUS: Final[Any] = object()


def select(
    tm: Any,
    typingctx: Any,
    declared: Sequence[Any],
    argtypes: tuple[Any, ...],
    *,
    can_fallback: bool,
) -> Any:
    """The compile result among *declared* that Numba would run for
    *argtypes*, None, or ``AMBIGUOUS``."""
    found = _index(tm, argtypes, declared)
    if found is None:
        for cres in declared:
            if not cres.objectmode:
                typingctx.install_possible_conversions(argtypes, cres.signature.args)
        found = _index(tm, argtypes, declared)
    if found is AMBIGUOUS:
        return AMBIGUOUS
    if found is not None:
        return declared[found]
    if can_fallback:
        return next((c for c in declared if c.objectmode), None)
    return None


def convert(
    tm: Any,
    typingctx: Any,
    declared: Sequence[Any],
    argtypes: tuple[Any, ...],
    *,
    can_fallback: bool,
    raise_for: Callable[..., Any] | None,
) -> Any:
    """``select``'s answer, with None for an ambiguous one; that raises as in
    Numba instead when *raise_for* (the function) is given."""
    cres = select(tm, typingctx, declared, argtypes, can_fallback=can_fallback)
    if cres is not AMBIGUOUS:
        return cres
    if raise_for is not None:
        raise_ambiguous(typingctx, raise_for, declared, argtypes)
    return None


def _index(tm: Any, argtypes: tuple[Any, ...], declared: Sequence[Any]) -> Any:
    """The index of the overload Numba's type manager picks, None, or AMBIGUOUS."""
    return index_among(tm, argtypes, [c.signature.args for c in declared])


def index_among(tm: Any, argtypes: tuple[Any, ...], candidates: Sequence[Any]) -> Any:
    """The index among *candidates* (argument types) that Numba's type
    manager converts *argtypes* to, None, or AMBIGUOUS."""
    try:
        return tm.select_overload(argtypes, candidates, True, False)
    except TypeError as exc:  # "No compatible overload" or "Ambiguous overloading"
        return AMBIGUOUS if "mbiguous" in str(exc) else None


def raise_ambiguous(
    typingctx: Any, py_func: Callable[..., Any], declared: Sequence[Any], argtypes: tuple[Any, ...]
) -> NoReturn:
    """Numba's ``_explain_ambiguous``, for types rather than values."""
    signatures = [c.signature for c in declared if not c.objectmode]
    typingctx.resolve_overload(
        py_func, signatures, argtypes, {}, allow_ambiguous=False
    )  # raises "Ambiguous overloading for ..."
    raise TypeError(f"Ambiguous overloading for {py_func} {argtypes}")
