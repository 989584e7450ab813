"""The hooks a ``use_jit`` policy may offer, declared for type checkers.

A policy is any callable that takes one call's values and returns an
``Action``.  Three hooks are optional; the dispatcher and the decorators
look for them by name (``getattr``), so a policy needs no base class:

- ``check_parameters(count, star)``: asked once, at decoration, with the
  number of values each call will bring and whether ``*args`` brings more;
  returns why the policy cannot decide on such calls, or None.
- ``account_for(dispatcher, reported, folded)``: a learning policy (such as
  ``policies.adaptive``) returns, once per argument-type signature, an
  ``Account`` that is asked in its place for calls of those types and told
  how long each interpreted call took.
- ``report()``: text that ``smart_jit.report(f)`` adds after its table.

``learning`` is the one look-up the dispatcher makes at run time.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from .action import Action


class Policy(Protocol):
    """What ``use_jit`` is: asked for one call whose types no overload matches."""

    def __call__(self, *args: Any) -> Action: ...


@runtime_checkable
class ChecksParameters(Protocol):
    def check_parameters(self, count: int, star: bool) -> str | None: ...


class Account(Protocol):
    """A learning policy's account of one argument-type signature."""

    def __call__(self, *args: Any) -> Action: ...

    def interpreted_call(self, args: tuple[Any, ...], seconds: float) -> None:
        """A call of these types ran in the interpreter for *seconds*."""


@runtime_checkable
class LearningPolicy(Protocol):
    def __call__(self, *args: Any) -> Action: ...

    def account_for(
        self, dispatcher: Any, reported: tuple[Any, ...], folded: tuple[Any, ...]
    ) -> Account:
        """The account of calls of *dispatcher* with these types: *reported*
        as the policy sees the values, *folded* as Numba compiles them."""


@runtime_checkable
class Reports(Protocol):
    def report(self) -> str: ...


def learning(policy: Any) -> LearningPolicy | None:
    """*policy* if it is a learning policy (it keeps an account per
    signature, whose interpreted calls its dispatcher times), else None."""
    return policy if callable(getattr(policy, "account_for", None)) else None
