"""Ready-made ``use_jit`` callbacks.

Each is a callable taking the call's arguments and returning an :class:`Action`;
they are plain objects, so they pickle into worker processes with the function.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from .action import Action
from .adaptive import adaptive
from .argtypes import typeof_arg
from .errors import PolicyArgumentError

__all__ = ["adaptive", "after_calls", "always", "by_type", "min_size"]


def _check_count(policy: str, name: str, value: Any) -> int:
    if type(value) is not int:
        raise TypeError(f"{policy}() {name} must be a non-negative int, got {value!r}")
    if value < 0:
        raise ValueError(f"{policy}() {name} must be a non-negative int, got {value!r}")
    return value


class _ArgumentPolicy:
    """A policy that looks at one argument, by position."""

    arg: int

    def check_parameters(self, count: int, star: bool) -> str | None:
        """Why this policy cannot apply to a function of *count* positional
        parameters (plus ``*args`` if *star*), or None.  Asked at decoration."""
        if self.arg >= count and not star:
            return f"{self!r} looks at argument {self.arg}, but the function takes {count}"
        return None

    def _argument(self, args: tuple[Any, ...]) -> Any:
        try:
            return args[self.arg]
        except IndexError:
            raise PolicyArgumentError(
                f"{self!r} looks at argument {self.arg}, but the call has {len(args)}"
            ) from None


class always:
    """Always the same action.

    Parameters
    ----------
    action : Action
        What every call no overload matches gets.

    Examples
    --------
    >>> from smart_jit import Action
    >>> always(Action.INTERPRETER)(1.5)
    <Action.INTERPRETER: 'interpreter'>
    """

    def __init__(self, action: Action) -> None:
        if type(action) is not Action:
            raise TypeError(f"always() takes an Action, got {action!r}")
        self.action = action

    def __call__(self, *args: Any) -> Action:
        return self.action

    def __repr__(self) -> str:
        return f"always({self.action})"


class min_size(_ArgumentPolicy):
    """JIT when argument *arg* has at least *n* elements, interpret otherwise.

    Parameters
    ----------
    n : int
        The smallest size that compiles (a non-negative int).
    arg : int, default 0
        Which argument to size, by position.

    Notes
    -----
    The size is ``.size`` for arrays and ``len()`` for other sized values; the
    seed's ``sum_fast`` rule is ``min_size(100_001)``.  A value with neither
    raises :class:`~smart_jit.PolicyArgumentError` (a ``TypeError``) naming
    the policy, the function and the value.

    Examples
    --------
    >>> import numpy as np
    >>> min_size(1_000)(np.ones(10))
    <Action.INTERPRETER: 'interpreter'>
    """

    def __init__(self, n: int, arg: int = 0) -> None:
        self.n = _check_count("min_size", "n", n)
        self.arg = _check_count("min_size", "arg", arg)

    def __call__(self, *args: Any) -> Action:
        value = self._argument(args)
        size = getattr(value, "size", None)
        if size is None:
            try:
                size = len(value)
            except TypeError:
                raise PolicyArgumentError(
                    f"{self!r} cannot size argument {self.arg}, {value!r} "
                    f"({type(value).__name__}): it has neither .size nor len()"
                ) from None
        return Action.JIT if size >= self.n else Action.INTERPRETER

    def __repr__(self) -> str:
        return f"min_size({self.n}, arg={self.arg})"


class after_calls:
    """Tiered compilation: interpret the first *n* calls of each argument-type
    signature, then JIT.

    Parameters
    ----------
    n : int
        Calls interpreted per signature (a non-negative int).

    Notes
    -----
    The count is per policy object: give each function its own.  Exactly *n*
    calls per signature are interpreted even when threads race (one
    ``itertools.count`` per signature, whose ``next`` is atomic: no lock, so
    nothing a forked child could inherit held).  Arguments are typed as the
    dispatcher types them: a value Numba cannot type is ``pyobject``.
    """

    def __init__(self, n: int) -> None:
        self.n = _check_count("after_calls", "n", n)
        self._seen: dict[tuple[Any, ...], itertools.count[int]] = {}

    def __call__(self, *args: Any) -> Action:
        signature = tuple(map(typeof_arg, args))
        counter = self._seen.get(signature) or self._seen.setdefault(signature, itertools.count())
        return Action.INTERPRETER if next(counter) < self.n else Action.JIT

    def __getstate__(self) -> dict[str, Any]:
        return {"n": self.n}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["n"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"after_calls({self.n})"


class by_type(_ArgumentPolicy):
    """Decide by the Python type of argument *arg* (``isinstance``).

    Parameters
    ----------
    jit, interpreter, raise_exception : type or tuple of types, default ()
        The types that get ``Action.JIT``, ``Action.INTERPRETER`` and
        ``Action.RAISE_EXCEPTION``, tried in that order; a single type may
        stand for a tuple of one.
    otherwise : Action or policy, default Action.RAISE_EXCEPTION
        What the other calls get: an Action, or another policy that then
        decides them (``otherwise=min_size(1000)``).
    arg : int, default 0
        Which argument to look at, by position.

    Examples
    --------
    The seed's ``double`` rule:

    >>> from smart_jit import Action
    >>> rule = by_type(jit=int, raise_exception=str, otherwise=Action.INTERPRETER)
    >>> rule(3), rule(4.4)
    (<Action.JIT: 'jit'>, <Action.INTERPRETER: 'interpreter'>)
    """

    def __init__(
        self,
        jit: type | tuple[type, ...] = (),
        interpreter: type | tuple[type, ...] = (),
        raise_exception: type | tuple[type, ...] = (),
        otherwise: Action | Callable[..., Action] = Action.RAISE_EXCEPTION,
        arg: int = 0,
    ) -> None:
        if type(otherwise) is not Action and not callable(otherwise):
            raise TypeError(f"by_type() otherwise must be an Action or a policy, got {otherwise!r}")
        self.rules = [
            (_types("jit", jit), Action.JIT),
            (_types("interpreter", interpreter), Action.INTERPRETER),
            (_types("raise_exception", raise_exception), Action.RAISE_EXCEPTION),
        ]
        self.otherwise = otherwise
        self.arg = _check_count("by_type", "arg", arg)

    def check_parameters(self, count: int, star: bool) -> str | None:
        problem = super().check_parameters(count, star)
        check_otherwise = getattr(self.otherwise, "check_parameters", None)
        if problem is None and check_otherwise is not None:
            problem = check_otherwise(count, star)
        return problem

    def __call__(self, *args: Any) -> Action:
        value = self._argument(args)
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
            f"raise_exception={raise_exception!r}, otherwise={self.otherwise}, arg={self.arg})"
        )


def _types(name: str, kinds: Any) -> tuple[type, ...]:
    """A type or a collection of types, as a tuple; anything else is refused."""
    if isinstance(kinds, type):
        return (kinds,)
    if isinstance(kinds, tuple | list | set | frozenset):
        if all(isinstance(kind, type) for kind in kinds):
            return tuple(kinds)
    raise TypeError(f"by_type() {name} must be a type or a tuple of types, got {kinds!r}")
