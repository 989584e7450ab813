"""conversions: which declared signature Numba's C dispatcher converts a call's
types to, compared with what a plain Numba dispatcher with those signatures runs."""

import numba
import numpy as np
import pytest
from numba.core.typing.typeof import Purpose, typeof

from smart_jit import conversions

DECLARED = {
    "int and float": ["int64(int64)", "float64(float64)"],
    "float only": ["float64(float64)"],
    "int32 and int16": ["int32(int32)", "int16(int16)"],
    "complex only": ["complex128(complex128)"],
}
VALUES = [1, 1.5, True, np.int32(1), np.float32(2.5), 1j, np.int8(3), "text"]


@pytest.mark.parametrize("name", sorted(DECLARED))
@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_select_answers_as_numbas_dispatcher_runs(name, value):
    plain = numba.njit(DECLARED[name])(lambda a: a)
    declared = list(plain.overloads.values())
    argtypes = (typeof(value, Purpose.argument),)
    if type(value) is int:
        argtypes = (numba.intp,)  # as the C dispatcher types a Python int
    chosen = conversions.select(plain._tm, plain.typingctx, declared, argtypes, can_fallback=False)
    try:
        want = plain(value)
    except TypeError:
        want = TypeError
    if chosen is None or chosen is conversions.AMBIGUOUS:
        assert want is TypeError
    else:
        got = chosen.entry_point(value)
        assert type(got) is type(want) and got == want


def test_ambiguity_is_reported_as_numba_reports_it():
    plain = numba.njit(["int32(int32)", "int16(int16)"])(lambda a: a)
    declared = list(plain.overloads.values())
    argtypes = (numba.int64,)
    chosen = conversions.select(plain._tm, plain.typingctx, declared, argtypes, can_fallback=False)
    if chosen is conversions.AMBIGUOUS:
        with pytest.raises(TypeError, match="mbiguous"):
            conversions.raise_ambiguous(plain.typingctx, plain.py_func, declared, argtypes)
    with pytest.raises(TypeError) as numba_error:
        plain(np.int64(1))
    assert ("mbiguous" in str(numba_error.value)) == (chosen is conversions.AMBIGUOUS)
