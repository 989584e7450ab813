"""Warning classes, rooted in Numba's so that Numba's warning filters apply."""

from __future__ import annotations

from numba.core.errors import NumbaWarning


class NumbaInterpreterModeWarning(NumbaWarning):
    """A call of a smart-jitted function ran in the Python interpreter."""
