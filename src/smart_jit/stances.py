"""Stances: what every smart-jitted function does on a miss, program-wide.

``set_stance(name)`` switches at any time, from any thread, as a function,
a context manager or a decorator.  ``current`` is None in the default stance
(each function's own ``use_jit``, or Numba's behaviour); the miss path reads
it once per call and asks nothing more of it in the default stance.

- ``adaptive`` and ``background`` give a policy to each function without
  one of its own (``policy_for``): they choose for functions nobody chose for.
  Under ``background``, a declared signature waiting for its first use
  compiles in the background too, the calls that need it interpreted.
- ``interpret`` and ``fail_on_compile`` apply to every function: they speak
  for the program.  ``interpret`` routes every call through the miss path
  (``table.route_through_python``) so that compiled overloads are skipped
  too.

A stance interprets only functions that ``interpretable.why_not`` accepts;
the others compile, as in the default stance.
"""

from __future__ import annotations

import functools
import os
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from . import table
from .action import Action

F = TypeVar("F", bound=Callable[..., Any])

REASON_INTERPRET = "the stance is interpret"
REASON_ADAPTIVE = "the adaptive stance's policy returned Action.INTERPRETER"


class Stance:
    """One program-wide behaviour on a miss."""

    name = "default"
    reason = ""  # why a call it interpreted ran in the interpreter
    interprets_all = False  # compiled overloads are skipped too
    forbids_compiles = False  # any compile raises CompileForbidden
    # Explicit signatures waiting for their first use (lazy signatures)
    # compile off the serving thread, the calls served by the interpreter.
    compiles_declared_in_background = False

    def policy_for(self, dispatcher: Any) -> Callable[..., Action] | None:
        """The policy a function without a ``use_jit`` of its own follows."""
        return None

    def __repr__(self) -> str:
        return f"<stance {self.name}>"


class _Adaptive(Stance):
    name, reason = "adaptive", REASON_ADAPTIVE

    def __init__(self) -> None:
        # One adaptive() per function, kept while the function lives: what it
        # learned survives a switch to another stance and back.
        self._policies: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()

    def policy_for(self, dispatcher: Any) -> Callable[..., Action] | None:
        policy = self._policies.get(dispatcher)
        if policy is None:
            from .policies import adaptive

            policy = self._policies.setdefault(dispatcher, adaptive())
        return policy  # type: ignore[no-any-return]


def _compile_in_background(*args: Any) -> Action:
    return Action.BACKGROUND_JIT


class _Background(Stance):
    name, compiles_declared_in_background = "background", True
    # Its policy never interprets; a decision log says the policy decided.
    reason = "the background stance's policy returned Action.INTERPRETER"

    def policy_for(self, dispatcher: Any) -> Callable[..., Action] | None:
        return _compile_in_background


class _Interpret(Stance):
    name, reason, interprets_all = "interpret", REASON_INTERPRET, True


class _FailOnCompile(Stance):
    name, forbids_compiles = "fail_on_compile", True


STANCES: dict[str, Stance | None] = {
    "default": None,
    "adaptive": _Adaptive(),
    "background": _Background(),
    "interpret": _Interpret(),
    "fail_on_compile": _FailOnCompile(),
}


class _State:
    """The process's stance; ``current`` is read without a lock (one
    attribute read is atomic), every switch is made under ``table.lock``:
    the tables are refilled under it, and one lock cannot be taken in two
    orders (``forksafe`` takes every lock before a fork)."""

    current: Stance | None = None
    interpret_fastmath = False


state = _State()


def lookup(name: str) -> Stance | None:
    try:
        return STANCES[name]
    except (KeyError, TypeError):
        known = ", ".join(STANCES)
        raise ValueError(f"unknown stance {name!r}: the stances are {known}") from None


def name_of(stance: Stance | None) -> str:
    return "default" if stance is None else stance.name


def _switch(new: Stance | None, interpret_fastmath: bool) -> tuple[Stance | None, bool]:
    """Make *new* the stance; the one it replaced."""
    with table.lock:
        previous = state.current, state.interpret_fastmath
        interprets = new is not None and new.interprets_all
        table.route_through_python("the interpret stance", interprets)
        state.current, state.interpret_fastmath = new, interpret_fastmath
        return previous


class set_stance:  # noqa: N801  # a function to its users, as torch's set_stance
    """Make *name* every smart-jitted function's stance.

    Called, it switches now, for the whole process.  As a context manager,
    it switches back to the stance it replaced on exit.  As a decorator, it
    switches for the duration of each call of the function, not at
    decoration.  Thread-safe; ``SMART_JIT_STANCE`` selects one at import.

    Parameters
    ----------
    name : str
        ``"default"`` (Numba's behaviour, or each function's ``use_jit``),
        ``"adaptive"`` (``policies.adaptive()`` for each function without a
        policy), ``"background"`` (misses served by the interpreter while
        they compile off the serving thread), ``"interpret"`` (every call
        runs the Python function, compiled overloads too) or
        ``"fail_on_compile"`` (any compile raises
        :class:`~smart_jit.CompileForbidden`).
    interpret_fastmath : bool, default False
        Let the stances run ``fastmath`` functions in Python as well,
        accepting that a reassociated sum may differ.

    Raises
    ------
    ValueError
        An unknown *name*; the message lists the stances.

    Examples
    --------
    >>> from smart_jit import jit, set_stance
    >>> square = jit(lambda a: a * a)
    >>> with set_stance("interpret"):
    ...     square(2**40)
    1208925819614629174706176
    """

    def __init__(self, name: str, *, interpret_fastmath: bool = False) -> None:
        self._new = lookup(name)
        self._fastmath = bool(interpret_fastmath)
        self._replaced = _switch(self._new, self._fastmath)

    def __enter__(self) -> set_stance:
        return self

    def __exit__(self, *exc: Any) -> None:
        _switch(*self._replaced)

    def __call__(self, func: F) -> F:
        _switch(*self._replaced)  # a decorator switches per call, not now
        name, fastmath = name_of(self._new), self._fastmath

        @functools.wraps(func)
        def with_stance(*args: Any, **kwargs: Any) -> Any:
            with set_stance(name, interpret_fastmath=fastmath):
                return func(*args, **kwargs)

        return with_stance  # type: ignore[return-value]


def forbids_compiles() -> bool:
    """Whether the stance in force refuses every compile (``fail_on_compile``)."""
    stance = state.current
    return stance is not None and stance.forbids_compiles


def current_name() -> str:
    """The name of the stance in force."""
    return name_of(state.current)


def from_environment() -> None:
    """``SMART_JIT_STANCE``, read once when the package is imported."""
    name = os.environ.get("SMART_JIT_STANCE", "").strip()
    if name:
        try:
            _switch(lookup(name), state.interpret_fastmath)
        except ValueError as exc:
            raise ValueError(f"SMART_JIT_STANCE: {exc}") from None
