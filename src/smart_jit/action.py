"""What a ``use_jit`` policy decides for one call whose types no overload matches."""

from __future__ import annotations

import enum

from .errors import PolicyArgumentError

__all__ = ["Action", "PolicyArgumentError", "not_an_action"]


class Action(enum.Enum):
    """The answer a ``use_jit`` callback gives for one call."""

    #: Compile for these argument types now, then run the compiled code.
    JIT = "jit"
    #: Run the original Python function for this call.
    INTERPRETER = "interpreter"
    #: Refuse the call with Numba's own "No matching definition" ``TypeError``.
    RAISE_EXCEPTION = "raise_exception"
    #: Run this call in the interpreter and compile these types in the
    #: background; compiled code takes over once it is ready.
    BACKGROUND_JIT = "background_jit"


def not_an_action(name: str, value: object) -> TypeError:
    """The error for a ``use_jit`` of function *name* that returned *value*."""
    expected = ", ".join(str(a) for a in Action)
    return TypeError(f"use_jit of {name} returned {value!r}; expected one of {expected}")
