"""The warning and exception classes, rooted in Numba's and Python's, so that
Numba's warning filters and ``except TypeError`` apply to them."""

from __future__ import annotations

import os
import sys
import warnings

from numba.core.errors import NumbaWarning

_PACKAGE = os.path.dirname(__file__) + os.sep


class NumbaInterpreterModeWarning(NumbaWarning):
    """A call of a smart-jitted function ran in the Python interpreter."""


class PolicyArgumentError(TypeError):
    """A ready-made policy was given a value it cannot decide on.

    The policy names itself and the value; the dispatcher adds the function
    before the error reaches the caller.
    """

    def of(self, name: str) -> PolicyArgumentError:
        """This error, as the policy of the function *name* raised it."""
        return PolicyArgumentError(f"use_jit of {name}: {self}")


class CompileForbidden(RuntimeError):
    """A compile was asked for under the ``fail_on_compile`` stance."""

    @classmethod
    def of(cls, name: str, argtypes: str) -> CompileForbidden:
        return cls(
            f"{name} would compile for ({argtypes}) under the fail_on_compile stance "
            "(a load from the disk cache or of shipped code is not a compile)"
        )


def warn_caller(message: str, category: type[Warning]) -> None:
    """Warn as if from the first frame outside this package: the user's call,
    however many of our frames lie between (the count is found, not written
    down, so that moving code between functions cannot move the warning)."""
    frame = sys._getframe(1)  # the caller: stacklevel 2
    level = 2
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
