"""The Numba type of a call's argument, as Numba's C dispatcher sees it.

Numba's C dispatcher types a Python ``int`` as ``intp`` whatever its size (a
value too large then fails to convert when the compiled code is called), and
asks the dispatcher's ``typeof_pyval`` for values it cannot type itself; there
a value Numba cannot type is ``pyobject``.  The miss path, the policies and
``fallbacks()`` all type arguments with :func:`typeof_arg`, so that one call
always has one signature, and the signature a matched call would have.
"""

from __future__ import annotations

from typing import Any

from numba.core import types
from numba.core.errors import NumbaValueError
from numba.core.typing.typeof import Purpose, typeof

_intp = types.intp
_pyobject = types.pyobject


def typeof_arg(value: Any) -> Any:
    """The Numba type the C dispatcher gives *value*; never raises."""
    if type(value) is int:
        return _intp
    try:
        numba_type = typeof(value, Purpose.argument)
    except (NumbaValueError, ValueError):
        return _pyobject
    return _pyobject if numba_type is None else numba_type  # Tuple(()) is falsy
