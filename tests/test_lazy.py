"""Lazy signatures: explicit signatures compile when first needed, and every
call gets what eager Numba gives it (the same overload, the same error)."""

from __future__ import annotations

import pickle

import numba
import numpy as np
import pytest
from conftest import PATIENCE, compiles_during

from smart_jit import jit, set_stance
from smart_jit.interpreted import REASON_BACKGROUND

SIGNATURE_SETS = [
    ["int64(int64)", "float64(float64)"],
    ["float64(float64)"],
    ["int32(int32)", "complex128(complex128)"],
    ["float64(int64, float64)", "float64(float64, int64)"],  # ambiguous for two ints
    ["float64(float64[:])", "int64(int64[:])"],
]
VALUES = [
    (3,),
    (np.int32(3),),
    (np.float32(1.5),),
    (True,),
    (2.5,),
    (1 + 2j,),
    ("text",),
    (np.arange(3.0),),
    (np.arange(3),),
    (1, 2),
    (1, 2.5),
    (2.5, 1),
]


def one(a):
    return a * 2 if not hasattr(a, "sum") else a.sum() * 2


def two(a, b):
    return a + b


def outcome(func, args):
    try:
        result = func(*args)
    except Exception as exc:  # the error itself is the answer to compare
        return type(exc).__name__, str(exc).splitlines()[0]
    return type(result).__name__, repr(result)


def implementation(sigs):
    return two if "," in sigs[0] else one


@pytest.mark.parametrize("sigs", SIGNATURE_SETS, ids=lambda s: " | ".join(s))
def test_each_call_gets_what_eager_numba_gives_it(sigs):
    py_func = implementation(sigs)
    lazy = jit(sigs, lazy=True)(py_func)
    assert lazy.signatures == [], "nothing compiled at decoration"
    eager = numba.njit(sigs)(py_func)
    for args in VALUES:
        if len(args) != py_func.__code__.co_argcount:
            continue
        assert outcome(lazy, args) == outcome(eager, args), args
    assert set(lazy.signatures) <= set(eager.signatures)


def test_a_call_compiles_only_the_signature_it_runs_as():
    f = jit(["int64(int64)", "float64(float64)"], lazy=True)(one)
    assert f(np.int32(2)) == 4
    assert f.signatures == [(numba.int64,)]
    assert compiles_during(lambda: f(5)) == 0
    assert f(0.5) == 1.0
    assert sorted(map(str, f.signatures)) == ["(float64,)", "(int64,)"]


def test_a_callers_compile_compiles_the_signature_it_needs():
    callee = jit(["int64(int64)", "float64(float64)"], lazy=True)(one)

    @numba.njit
    def caller(a):
        return callee(a) + 1

    assert caller(1.5) == 4.0
    assert callee.signatures == [(numba.float64,)]


def test_under_interpret_a_lazy_function_compiles_nothing_and_later_dispatches_as_numba():
    f = jit(["int64(int64)"], lazy=True)(one)
    with set_stance("interpret"):
        assert f(2**62) == 2**63, "Python's answer"
    assert f.signatures == []
    assert f(2**62) == numba.njit(["int64(int64)"])(one)(2**62)
    with pytest.raises(TypeError, match="No matching definition"):
        f("text")


def test_a_pickled_lazy_function_declares_the_same_signatures():
    f = jit(["int64(int64)", "float64(float64)"], lazy=True)(one)
    f(1)
    copy = pickle.loads(pickle.dumps(f))
    assert copy is f, "the same process finds the original"
    states = f._reduce_states()
    assert sorted(str(sig) for sig in states["sigs"]) == [
        "(float64,) -> float64",
        "(int64,) -> int64",
    ], "what a worker rebuilds from: every declared signature, compiled"


def test_lazy_is_a_bool():
    with pytest.raises(TypeError, match="lazy must be a bool"):
        jit(["int64(int64)"], lazy="yes")


# -- under the background stance --------------------------------------------------


@pytest.mark.parametrize(
    "sigs", [*SIGNATURE_SETS, ["float32(float64)"]], ids=lambda s: " | ".join(s)
)
def test_under_background_python_serves_a_call_until_its_declared_signature_compiled(
    sigs, compile_mode
):
    """Each call: Python's answer if it was interpreted (its declared
    signature compiling off this thread), else eager Numba's, an error
    included; once the compile is done, eager Numba's."""
    py_func = implementation(sigs)
    lazy = jit(sigs, lazy=True)(py_func)
    eager = numba.njit(sigs)(py_func)
    with set_stance("background"):
        for args in VALUES:
            if len(args) != py_func.__code__.co_argcount:
                continue
            before = interpreted_calls(lazy)
            first = outcome(lazy, args)
            if interpreted_calls(lazy) > before:
                assert first == outcome(py_func, args), args
                assert not raises(eager, args), "a call eager Numba refuses is never interpreted"
            else:
                assert first == outcome(eager, args), args
            assert lazy.wait_compiled(PATIENCE)
            assert outcome(lazy, args) == outcome(eager, args), args
    assert set(lazy.signatures) <= set(eager.signatures)
    assert all(f.reason == REASON_BACKGROUND for f in lazy.fallbacks())


def raises(func, args):
    try:
        func(*args)
    except Exception:
        return True
    return False


def interpreted_calls(f):
    return sum(fallback.calls for fallback in f.fallbacks())


def test_under_background_a_call_of_types_no_signature_accepts_is_numbas_type_error():
    f = jit(["int64(int64)"], lazy=True)(one)
    with set_stance("background"), pytest.raises(TypeError, match="No matching definition"):
        f("text")
    assert f.fallbacks() == []


def test_under_background_a_declared_signature_that_fails_raises_at_the_next_call():
    sigs = ["int64(unicode_type)"]  # one("text") is a str: no conversion to int64
    with pytest.raises(numba.core.errors.TypingError) as eager:
        numba.njit(sigs)(one)
    f = jit(sigs, lazy=True)(one)
    with set_stance("background"):
        assert f("ab") == "abab", "served by Python while it compiles"
        assert f.wait_compiled(PATIENCE)
        with pytest.raises(numba.core.errors.TypingError) as lazy:
            f("ab")
    assert str(lazy.value).splitlines()[0] == str(eager.value).splitlines()[0]


def test_under_background_a_function_the_stance_may_not_interpret_compiles_now():
    f = jit(["float64(float64)"], lazy=True, fastmath=True)(one)
    with set_stance("background"):
        assert f(1.5) == 3.0
        assert f.signatures == [(numba.float64,)], "compiled by the call, not queued"
    assert f.fallbacks() == []
