"""Ready-made ``use_jit`` callbacks.

Each is a callable taking the call's arguments and returning an :class:`Action`;
they are plain objects, so they pickle into worker processes with the function.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from numba.core.typing.typeof import Purpose, typeof

from .action import Action

__all__ = ["after_calls", "always", "by_type", "min_size"]


class always:
    """Always the same action: ``always(Action.INTERPRETER)``."""

    def __init__(self, action: Action) -> None:
        if type(action) is not Action:
            raise TypeError(f"always() takes an Action, got {action!r}")
        self.action = action

    def __call__(self, *args: Any) -> Action:
        return self.action

    def __repr__(self) -> str:
        return f"always({self.action})"


class min_size:
    """JIT when argument *arg* has at least *n* elements, interpret otherwise.

    The size is ``.size`` for arrays and ``len()`` for other sized values; the
    seed's ``sum_fast`` rule is ``min_size(100_001)``.
    """

    def __init__(self, n: int, arg: int = 0) -> None:
        if type(n) is not int or n < 0:
            raise TypeError(f"min_size() takes a non-negative int, got {n!r}")
        if type(arg) is not int:
            raise TypeError(f"min_size() arg must be a parameter index, got {arg!r}")
        self.n = n
        self.arg = arg

    def __call__(self, *args: Any) -> Action:
        value = args[self.arg]
        size = getattr(value, "size", None)
        if size is None:
            size = len(value)
        return Action.JIT if size >= self.n else Action.INTERPRETER

    def __repr__(self) -> str:
        return f"min_size({self.n}, arg={self.arg})"


class after_calls:
    """Tiered compilation: interpret the first *n* calls of each argument-type
    signature, then JIT.

    The count is per policy object: give each function its own.  Counting is
    thread-safe, so exactly *n* calls per signature are interpreted even when
    threads race.
    """

    def __init__(self, n: int) -> None:
        if type(n) is not int or n < 0:
            raise TypeError(f"after_calls() takes a non-negative int, got {n!r}")
        self.n = n
        self._seen: dict[tuple[Any, ...], int] = {}
        self._lock = threading.Lock()

    def __call__(self, *args: Any) -> Action:
        signature = tuple(typeof(a, Purpose.argument) for a in args)
        with self._lock:
            count = self._seen.get(signature, 0)
            if count >= self.n:
                return Action.JIT
            self._seen[signature] = count + 1
        return Action.INTERPRETER

    def __getstate__(self) -> dict[str, Any]:
        return {"n": self.n}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["n"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"after_calls({self.n})"


class by_type:
    """Decide by the Python type of the first argument (``isinstance``).

    ``by_type(jit=(int,), raise_exception=(str,), otherwise=Action.INTERPRETER)``
    is the seed's ``double`` rule.  Types are tried in the order jit,
    interpreter, raise_exception.  *otherwise* is an Action or another policy,
    which then decides the remaining calls: ``otherwise=min_size(1000)``.
    """

    def __init__(
        self,
        jit: tuple[type, ...] = (),
        interpreter: tuple[type, ...] = (),
        raise_exception: tuple[type, ...] = (),
        otherwise: Action | Callable[..., Action] = Action.RAISE_EXCEPTION,
        arg: int = 0,
    ) -> None:
        if type(otherwise) is not Action and not callable(otherwise):
            raise TypeError(f"by_type() otherwise must be an Action or a policy, got {otherwise!r}")
        self.rules = [
            (tuple(jit), Action.JIT),
            (tuple(interpreter), Action.INTERPRETER),
            (tuple(raise_exception), Action.RAISE_EXCEPTION),
        ]
        for kinds, _ in self.rules:
            for kind in kinds:
                if not isinstance(kind, type):
                    raise TypeError(f"by_type() takes tuples of types, got {kind!r}")
        self.otherwise = otherwise
        self.arg = arg

    def __call__(self, *args: Any) -> Action:
        value = args[self.arg]
        for kinds, action in self.rules:
            if isinstance(value, kinds):
                return action
        if isinstance(self.otherwise, Action):
            return self.otherwise
        return self.otherwise(*args)

    def __repr__(self) -> str:
        jit, interpreter, raise_exception = (kinds for kinds, _ in self.rules)
        return (
            f"by_type(jit={jit!r}, interpreter={interpreter!r}, "
            f"raise_exception={raise_exception!r}, otherwise={self.otherwise})"
        )
