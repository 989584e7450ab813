"""What a ``use_jit`` policy decides for one call whose types no overload matches."""

from __future__ import annotations

import enum


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


class PolicyArgumentError(TypeError):
    """A ready-made policy was given a value it cannot decide on.

    The policy names itself and the value; the dispatcher adds the function
    before the error reaches the caller.
    """
