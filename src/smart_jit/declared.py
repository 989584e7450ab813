"""Lazy signatures: explicit signatures that compile when first needed.

Numba compiles every signature given to ``jit`` at decoration.  Declared
lazily, they wait (``Waiting``) until a call, or a caller's compile, needs
one; dispatch is Numba's: a call runs the declared signature Numba's type
manager converts its types to, chosen among *all* declared signatures, the
waiting ones included, so the answer never depends on which compiled first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

from numba.core import sigutils

from . import conversions

# More than one declared signature is equally good: compile them all, so
# that Numba's own look-up raises its ambiguity error.
ALL: Final[Any] = object()


class Waiting(dict[tuple[Any, ...], Any]):
    """Argument types -> the declared signature not compiled yet."""

    @classmethod
    def of(cls, sigs: Iterable[Any]) -> Waiting:
        waiting = cls()
        for sig in sigs:
            args, _ = sigutils.normalize_signature(sig)
            waiting.setdefault(tuple(args), sig)
        return waiting

    def compile(
        self,
        wanted: Any,
        compile_one: Callable[[Any], Any],
        tm: Any,
        typingctx: Any,
        declared: Iterable[tuple[Any, ...]],
    ) -> None:
        """Compile the waiting signature calls of types *wanted* run as
        (``choose``), or every one (``ALL``), with *compile_one*."""
        chosen = wanted if wanted is ALL else choose(tm, typingctx, self, declared, wanted)
        keys = list(self) if chosen is ALL else [chosen] if chosen in self else []
        for key in keys:
            sig = self.get(key)
            if sig is not None:
                compile_one(sig)
                self.pop(key, None)  # after: a failed compile keeps it declared

    def chosen(
        self, tm: Any, typingctx: Any, declared: Iterable[tuple[Any, ...]], argtypes: Any
    ) -> Any:
        """The waiting signature calls of types *argtypes* run as; None if
        none waits for them or the choice is ambiguous."""
        chosen = choose(tm, typingctx, self, declared, argtypes)
        return None if chosen is None or chosen is ALL else self.get(chosen)


def choose(
    tm: Any,
    typingctx: Any,
    waiting: Waiting,
    declared: Iterable[tuple[Any, ...]],
    argtypes: tuple[Any, ...],
) -> Any:
    """The declared argument types Numba would run *argtypes* as, None, or
    ``ALL`` when the choice is ambiguous."""
    if not waiting:
        return None
    if argtypes in waiting:
        return argtypes
    candidates = list(declared)
    for args in candidates:
        typingctx.install_possible_conversions(argtypes, args)
    index = conversions.index_among(tm, argtypes, candidates)
    if index is conversions.AMBIGUOUS:
        return ALL
    return None if index is None else candidates[index]
